/*
 * Per-thread-kind seccomp filters (libseccomp). Each thread that touches guest data
 * calls seccomp_install(its kind) once at its entry point; the allow-lists, one table
 * per kind, all live in vmm/seccomp.c.
 */
#ifndef NOOK_VMM_SECCOMP_H
#define NOOK_VMM_SECCOMP_H

#include <stddef.h>

enum thread_kind {
	THREAD_VCPU,		/* vmm/vcpu.c: KVM_RUN and MMIO/PIO exits */
	THREAD_VIRTQ,		/* virtio queue threads (console, virtio-fs queues) */
	THREAD_FS_WORKER,	/* FUSE workers for the guest transport (fs/virtio_fs.c) */
	THREAD_FUSE_DEV,	/* FUSE workers reading /dev/fuse (fs/fuse_dev.c) */
	THREAD_FUSE_URING,	/* FUSE over io_uring threads (fs/fuse_uring.c) */
	THREAD_EVENT_LOOP,	/* the main event loop: console, signals, timers */
	THREAD_KIND_COUNT,
};

enum seccomp_mode {
	SECCOMP_MODE_KILL,	/* kill the process (SCMP_ACT_KILL_PROCESS) */
	SECCOMP_MODE_TRAP,	/* SIGSYS: name the thread kind and syscall, then exit */
	SECCOMP_MODE_LOG,	/* allow, but the kernel logs the syscall (audit) */
	SECCOMP_MODE_OFF,	/* no filter */
};

/* "kill", "trap", "log", "off". 0 on success; -1 with one line in err otherwise. */
int seccomp_parse_mode(const char *s, enum seccomp_mode *out, char *err, size_t errlen);

/* Process-wide mode for every later seccomp_install (set once, before threads start).
 * Under trap this installs the SIGSYS handler. 0 or -errno. */
int seccomp_set_mode(enum seccomp_mode mode);

/* Confines the calling thread to kind's allow-list (PR_SET_NO_NEW_PRIVS included).
 * Irreversible for this thread and threads it creates later. 0 or -errno. */
int seccomp_install(enum thread_kind kind);

const char *seccomp_thread_name(enum thread_kind kind);

#endif

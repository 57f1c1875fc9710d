/*
 * Per-thread-kind seccomp filters (libseccomp). Every thread that touches guest data is
 * started by seccomp_thread_create(), which confines it to its kind's allow-list before
 * its function runs; the main thread confines itself with seccomp_install() once set-up
 * is over. The allow-lists, one table per kind, all live in vmm/seccomp.c.
 */
#ifndef NOOK_VMM_SECCOMP_H
#define NOOK_VMM_SECCOMP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

enum thread_kind {
	THREAD_VCPU,		/* vmm/vcpu.c: KVM_RUN and MMIO/PIO exits */
	THREAD_VIRTQ,		/* virtio queue threads without a file server (console) */
	THREAD_FS_WORKER,	/* virtio-fs queue threads and their worker pool (fs/virtio_fs.c) */
	THREAD_FUSE_DEV,	/* FUSE workers reading /dev/fuse (fs/fuse_dev.c) */
	THREAD_FUSE_URING,	/* FUSE over io_uring threads (fs/fuse_uring.c) */
	THREAD_EVENT_LOOP,	/* the VM's main thread once set up: console, signals, teardown */
	THREAD_FS_WATCH,	/* host change watchers (inotify, fanotify) of a share */
	THREAD_FS_SERVE,	/* `nook fs serve`'s main thread once mounted: signals, unmount */
	THREAD_KIND_COUNT,
};

enum seccomp_mode {
	SECCOMP_MODE_KILL,	/* kill the process (SCMP_ACT_KILL_PROCESS) */
	SECCOMP_MODE_TRAP,	/* SIGSYS: name the thread kind and syscall, then exit */
	SECCOMP_MODE_LOG,	/* allow, but the kernel logs the syscall (audit, dmesg) */
	SECCOMP_MODE_OFF,	/* no filter */
};

/* "kill", "trap", "log", "off". 0 on success; -1 with one line in err otherwise. */
int seccomp_parse_mode(const char *s, enum seccomp_mode *out, char *err, size_t errlen);

/*
 * The mode for a program's command line: NOOK_SECCOMP when set (so whole test suites can
 * run under log or trap), else `def`. -1 with one line in err for a bad NOOK_SECCOMP.
 */
int seccomp_default_mode(enum seccomp_mode def, enum seccomp_mode *out, char *err,
			 size_t errlen);

/*
 * Process-wide mode for every later install; call once from the main thread before any
 * thread starts. Unless off, this compiles every kind's filter and starts the spawner
 * thread (see seccomp_thread_create); under trap it installs the SIGSYS reporter.
 * Without a call the mode is off (the library as the unit tests use it). 0 or -errno.
 */
int seccomp_set_mode(enum seccomp_mode mode);
enum seccomp_mode seccomp_get_mode(void);

/* Confines the calling thread to kind's allow-list (PR_SET_NO_NEW_PRIVS included).
 * Irreversible for this thread and threads it creates later. 0 or -errno. */
int seccomp_install(enum thread_kind kind);

/*
 * pthread_create() for a thread of `kind`: the new thread is confined to kind's list
 * before fn runs (a thread whose filter fails to load never runs fn; the error is
 * returned here). A filter is inherited by every thread its thread creates and can only
 * be narrowed, so a thread created from an already confined thread (a virtio-fs queue
 * thread that a vCPU starts when the guest sets DRIVER_OK) is created by the spawner,
 * an unconfined-by-kind helper thread started by seccomp_set_mode(). Returns 0 or an
 * error number, as pthread_create().
 */
int seccomp_thread_create(pthread_t *t, enum thread_kind kind, void *(*fn)(void *), void *arg);

/*
 * A command-line argument "--seccomp MODE" or "--seccomp=MODE" at argv[*i]: 1 when it
 * was one (*i moves past its value), 0 when not, -1 with one line in err when its value
 * is missing or wrong. For front ends without getopt (`nook fs serve`).
 */
int seccomp_parse_arg(int argc, char **argv, int *i, enum seccomp_mode *out, char *err,
		      size_t errlen);

/* The calling thread's kind, or -1 when it installed none. */
int seccomp_current_kind(void);

const char *seccomp_thread_name(enum thread_kind kind);

#endif

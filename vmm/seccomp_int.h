/* Between vmm/seccomp.c (filters) and vmm/seccomp_thread.c (thread creation). */
#ifndef NOOK_VMM_SECCOMP_INT_H
#define NOOK_VMM_SECCOMP_INT_H

#include "vmm/seccomp.h"

/* The spawner's own filter, after the thread kinds. */
#define SECCOMP_SPAWNER THREAD_KIND_COUNT

/* seccomp_install() for a kind or SECCOMP_SPAWNER. 0 or -errno. */
int seccomp_install_any(int kind);

/* Starts the spawner thread (once). 0 or -errno. */
int seccomp_spawner_start(void);

#endif

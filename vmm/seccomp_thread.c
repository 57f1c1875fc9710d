/*
 * Threads that start confined (see seccomp_thread_create in vmm/seccomp.h).
 *
 * A new thread inherits its creator's filter and can only narrow it. A thread created by
 * the unconfined main thread during set-up is confined by a trampoline before its
 * function runs. A thread created by an already confined thread (a vCPU thread starts
 * the virtio-fs queue threads when the guest writes DRIVER_OK) would end up with the
 * intersection of both lists (and a thread that dropped its capabilities in the sandbox
 * could not hand a server thread its own), so that creation is handed to the spawner: a
 * thread that seccomp_set_mode() starts, confined to the union of every list and holding
 * the union of every kind's capabilities, which does nothing but create threads on
 * request. Its children narrow both to their own kind.
 */
#include "vmm/seccomp.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "vmm/landlock.h"
#include "vmm/sandbox.h"
#include "vmm/seccomp_int.h"
#include "vmm/test_hook.h"

/* One creation, from request to the new thread's confinement result. */
struct seccomp_start {
	enum thread_kind kind;
	void *(*fn)(void *);
	void *arg;
	pthread_t *out;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;		/* the new thread installed its filter (or failed to) */
	int result;		/* 0 or an error number */
	struct seccomp_start *next;	/* spawner queue */
};

static pthread_mutex_t seccomp_spawn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t seccomp_spawn_cond = PTHREAD_COND_INITIALIZER;
static struct seccomp_start *seccomp_spawn_head;
static bool seccomp_spawner_running;

static void seccomp_start_finish(struct seccomp_start *s, int result)
{
	pthread_mutex_lock(&s->lock);
	s->result = result;
	s->done = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static void *seccomp_trampoline(void *p)
{
	struct seccomp_start *s = p;
	void *(*fn)(void *) = s->fn;
	void *arg = s->arg;
	enum thread_kind s_kind = s->kind;
	char comm[16];
	int r;

	/* "nook-<kind>": what ps and the kernel's seccomp log lines show for this thread. */
	snprintf(comm, sizeof(comm), "nook-%s", seccomp_thread_name(s->kind));
	prctl(PR_SET_NAME, comm, 0, 0, 0);
	r = sandbox_thread((int)s->kind);
	if (!r)
		r = seccomp_install(s->kind);
	seccomp_start_finish(s, -r);	/* s is gone after this */
	if (!r)
		test_hook_thread((int)s_kind);
	return r ? NULL : fn(arg);
}

/* Creates the thread here and waits until it is confined. 0 or an error number. */
static int seccomp_start_here(struct seccomp_start *s)
{
	int r = pthread_create(s->out, NULL, seccomp_trampoline, s);

	if (r)
		return r;
	pthread_mutex_lock(&s->lock);
	while (!s->done)
		pthread_cond_wait(&s->cond, &s->lock);
	r = s->result;
	pthread_mutex_unlock(&s->lock);
	if (r)
		pthread_join(*s->out, NULL);
	return r;
}

static void *seccomp_spawner(void *unused)
{
	int r;

	(void)unused;
	prctl(PR_SET_NAME, "nook-spawner", 0, 0, 0);
	r = sandbox_thread(SECCOMP_SPAWNER);
	if (!r)
		r = seccomp_install_any(SECCOMP_SPAWNER);
	if (r)
		fprintf(stderr, "nook: sandbox/seccomp: spawner thread: %s\n", strerror(-r));
	for (;;) {
		struct seccomp_start *s;

		pthread_mutex_lock(&seccomp_spawn_lock);
		while (!seccomp_spawn_head)
			pthread_cond_wait(&seccomp_spawn_cond, &seccomp_spawn_lock);
		s = seccomp_spawn_head;
		seccomp_spawn_head = s->next;
		pthread_mutex_unlock(&seccomp_spawn_lock);
		/* Refuse rather than create an unconfined thread. A start of its own: the
		 * requester may free s as soon as it is finished. */
		if (r) {
			seccomp_start_finish(s, EPERM);
			continue;
		}
		/* Once every rule is known: the union of all kinds' Landlock rules, which
		 * each child narrows to its own. */
		if (sandbox_active() != SANDBOX_NONE && landlock_restrict_spawner()) {
			seccomp_start_finish(s, EPERM);
			continue;
		}
		struct seccomp_start here = { .kind = s->kind, .fn = s->fn, .arg = s->arg,
					      .out = s->out };
		pthread_mutex_init(&here.lock, NULL);
		pthread_cond_init(&here.cond, NULL);
		int result = seccomp_start_here(&here);
		pthread_cond_destroy(&here.cond);
		pthread_mutex_destroy(&here.lock);
		seccomp_start_finish(s, result);
	}
	return NULL;
}

int seccomp_spawner_start(void)
{
	pthread_t t;
	int r;

	if (seccomp_spawner_running)
		return 0;
	r = pthread_create(&t, NULL, seccomp_spawner, NULL);
	if (r)
		return -r;
	pthread_detach(t);
	seccomp_spawner_running = true;
	return 0;
}

int seccomp_thread_create(pthread_t *t, enum thread_kind kind, void *(*fn)(void *), void *arg)
{
	struct seccomp_start s = { .kind = kind, .fn = fn, .arg = arg, .out = t };
	int r;

	if (seccomp_get_mode() == SECCOMP_MODE_OFF && sandbox_active() == SANDBOX_NONE)
		return pthread_create(t, NULL, fn, arg);
	if ((unsigned)kind >= THREAD_KIND_COUNT)
		return EINVAL;
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	if (seccomp_current_kind() < 0 && !sandbox_thread_dropped()) {
		r = seccomp_start_here(&s);
	} else {
		/* Confined caller: the spawner creates it, we wait for the outcome. */
		pthread_mutex_lock(&seccomp_spawn_lock);
		s.next = NULL;
		struct seccomp_start **pp = &seccomp_spawn_head;
		while (*pp)
			pp = &(*pp)->next;
		*pp = &s;
		pthread_cond_signal(&seccomp_spawn_cond);
		pthread_mutex_unlock(&seccomp_spawn_lock);
		pthread_mutex_lock(&s.lock);
		while (!s.done)
			pthread_cond_wait(&s.cond, &s.lock);
		r = s.result;
		pthread_mutex_unlock(&s.lock);
	}
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
	return r;
}

/*
 * The reader role of polling host-transport workers (fs/fuse_lead.h): one leader, a
 * hand-off only when a request outlasts slow_ns, and stop releasing every standby.
 * Timing margins are wide (tens of ms against a slow_ns of 20 ms): these check who
 * leads, not how fast.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "fs/fuse_lead.h"

#define MS 1000000LL

static struct fuse_lead l;

struct standby {
	pthread_t t;
	int id;
	atomic_int result;   /* -1 still waiting, 0 stopped, 1 became leader */
};

static void *standby_main(void *arg)
{
	struct standby *s = arg;

	atomic_store(&s->result, fuse_lead_wait(&l, s->id) ? 1 : 0);
	return NULL;
}

static void standby_start(struct standby *s, int id)
{
	s->id = id;
	atomic_init(&s->result, -1);
	cr_assert_eq(pthread_create(&s->t, NULL, standby_main, s), 0);
}

/* Waits up to 2 s for the standby to return; its result. */
static int standby_join(struct standby *s)
{
	for (int i = 0; i < 200 && atomic_load(&s->result) < 0; i++)
		usleep(10000);
	cr_assert_geq(atomic_load(&s->result), 0, "worker %d still waits", s->id);
	pthread_join(s->t, NULL);
	return atomic_load(&s->result);
}

static void lead_setup(void)
{
	cr_assert_eq(fuse_lead_init(&l, 20 * MS), 0);
}

static void lead_teardown(void)
{
	fuse_lead_destroy(&l);
}

TestSuite(fuse_lead, .init = lead_setup, .fini = lead_teardown, .timeout = 20);

Test(fuse_lead, first_worker_leads_and_keeps_the_role)
{
	cr_assert(fuse_lead_wait(&l, 0));
	cr_assert(fuse_lead_wait(&l, 0), "a leader goes on reading without waiting");
	cr_assert_eq(atomic_load(&l.leader), 0);
}

Test(fuse_lead, fast_requests_keep_the_leader)
{
	struct standby s;

	cr_assert(fuse_lead_wait(&l, 0));
	standby_start(&s, 1);
	/* 40 requests of 1 ms: 40 ms busy in all, never 20 ms on one request. */
	for (int i = 0; i < 40; i++) {
		fuse_lead_busy(&l, 0);
		usleep(1000);
		fuse_lead_idle(&l, 0);
	}
	usleep(50000);
	cr_assert_eq(atomic_load(&s.result), -1, "the standby took over from a fast leader");
	cr_assert_eq(atomic_load(&l.leader), 0);
	fuse_lead_stop(&l);
	cr_assert_eq(standby_join(&s), 0);
}

Test(fuse_lead, slow_request_hands_the_role_on)
{
	struct standby s;

	cr_assert(fuse_lead_wait(&l, 0));
	standby_start(&s, 1);
	fuse_lead_busy(&l, 0);
	/* The standby must lead long before this request ends. */
	for (int i = 0; i < 100 && atomic_load(&s.result) < 0; i++)
		usleep(10000);
	cr_assert_eq(standby_join(&s), 1);
	cr_assert_eq(atomic_load(&l.leader), 1);
	/* The old leader's end of request changes nothing for the new one. */
	fuse_lead_idle(&l, 0);
	cr_assert_eq(atomic_load(&l.leader), 1);
	cr_assert_eq(atomic_load(&l.busy_since), 0);
	/* And it stands by now: it only comes back when stopped. */
	standby_start(&s, 0);
	usleep(50000);
	cr_assert_eq(atomic_load(&s.result), -1);
	fuse_lead_stop(&l);
	cr_assert_eq(standby_join(&s), 0);
}

Test(fuse_lead, stop_releases_every_standby)
{
	struct standby s[3];

	cr_assert(fuse_lead_wait(&l, 0));
	for (int i = 0; i < 3; i++)
		standby_start(&s[i], i + 1);
	usleep(20000);
	fuse_lead_stop(&l);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(standby_join(&s[i]), 0);
	cr_assert(!fuse_lead_wait(&l, 0), "the leader stops too");
}

Test(fuse_lead, single_worker_needs_no_timer)
{
	struct fuse_lead one;
	struct itimerspec t;

	cr_assert_eq(fuse_lead_init(&one, 0), 0);
	cr_assert(fuse_lead_wait(&one, 0));
	fuse_lead_busy(&one, 0);
	cr_assert_eq(timerfd_gettime(one.timer_fd, &t), 0);
	cr_assert(t.it_value.tv_sec == 0 && t.it_value.tv_nsec == 0, "timer armed");
	fuse_lead_idle(&one, 0);
	fuse_lead_destroy(&one);
}

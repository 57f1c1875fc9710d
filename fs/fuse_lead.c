/*
 * Reader role of the host transport's workers, see fs/fuse_lead.h.
 *
 * Races are benign by design: the role moves only by compare-and-swap, a demoted leader
 * touches neither the timer nor busy_since, and a stale expiry (the leader finished
 * just as the timer fired) finds busy_since 0 or fresh and at most re-arms the timer.
 */
#include "fs/fuse_lead.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "vmm/clock.h"
#include "vmm/log.h"

static void fuse_lead_arm(struct fuse_lead *l, int64_t ns, int64_t interval_ns)
{
	struct itimerspec t = {
		.it_interval = { interval_ns / 1000000000, interval_ns % 1000000000 },
		.it_value = { ns / 1000000000, ns % 1000000000 },
	};

	if (timerfd_settime(l->timer_fd, 0, &t, NULL))
		log_warn("fs serve: arming the worker timer: %s", strerror(errno));
}

int fuse_lead_init(struct fuse_lead *l, int64_t slow_ns)
{
	l->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (l->timer_fd < 0)
		return -errno;
	l->slow_ns = slow_ns > 0 ? slow_ns : 0;
	atomic_init(&l->leader, -1);
	atomic_init(&l->busy_since, 0);
	atomic_init(&l->stopping, false);
	atomic_init(&l->armed, false);
	return 0;
}

void fuse_lead_destroy(struct fuse_lead *l)
{
	if (l->timer_fd >= 0)
		close(l->timer_fd);
	l->timer_fd = -1;
}

bool fuse_lead_wait(struct fuse_lead *l, int id)
{
	for (;;) {
		int cur = atomic_load(&l->leader);
		uint64_t ticks;
		int64_t since, age;

		if (atomic_load(&l->stopping))
			return false;
		if (cur == id)
			return true;
		if (cur < 0 && atomic_compare_exchange_strong(&l->leader, &cur, id))
			return true;
		/* Stand by until the timer expires (or we stop). */
		if (read(l->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EINTR &&
		    errno != EAGAIN) {
			log_err("fs serve: waiting on the worker timer: %s", strerror(errno));
			return false;
		}
		atomic_store(&l->armed, false);
		since = atomic_load(&l->busy_since);
		/* Leader idle: its next request arms the timer again. */
		if (!since)
			continue;
		age = (int64_t)clock_now_ns() - since;
		if (age < l->slow_ns) {
			/* A later request than the one that armed the timer: check again
			 * when this one turns slow. */
			if (!atomic_exchange(&l->armed, true))
				fuse_lead_arm(l, l->slow_ns - age, 0);
			continue;
		}
		cur = atomic_load(&l->leader);
		if (cur != id && atomic_compare_exchange_strong(&l->leader, &cur, id)) {
			/* The new leader has no request yet. */
			atomic_store(&l->busy_since, 0);
			return true;
		}
	}
}

/*
 * The timer is armed at most once per slow_ns, not per request: programming a timer
 * costs a VM exit on virtual hardware, several microseconds, against a round trip of
 * a few tens. It is not disarmed either; an expiry while the leader is idle or fresh
 * into a request only makes one standby look and go back to sleep.
 */
void fuse_lead_busy(struct fuse_lead *l, int id)
{
	if (!l->slow_ns || atomic_load(&l->leader) != id)
		return;
	atomic_store(&l->busy_since, (int64_t)clock_now_ns());
	if (!atomic_exchange(&l->armed, true))
		fuse_lead_arm(l, l->slow_ns, 0);
}

void fuse_lead_idle(struct fuse_lead *l, int id)
{
	if (!l->slow_ns || atomic_load(&l->leader) != id)
		return;
	atomic_store(&l->busy_since, 0);
}

void fuse_lead_stop(struct fuse_lead *l)
{
	atomic_store(&l->stopping, true);
	/* Periodic: each standby's read takes one expiry, so every one of them wakes. */
	fuse_lead_arm(l, 1, 1000000);
}

/*
 * virtio-fs device over the virtio-mmio transport, driven like Linux's virtio_fs driver
 * with a scripted FUSE dispatcher (the real server's tests are in test_virtio_fs_fuse.c).
 * The scripted dispatcher can hold a request until the test releases it, which makes
 * out-of-order completion, reset mid-request and a stalled guest deterministic.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "devices/virtio_mmio.h"
#include "devices/virtq.h"
#include "fs/virtio_fs.h"
#include "tests/unit/virtio_test_driver.h"
#include "vmm/log.h"

#define OP_BLOCK 4000   /* scripted: wait until released, then echo */
#define OP_ECHO  4001   /* scripted: echo the arguments back */

struct script {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int entered, finished, forgets, garbage;
	bool released[64];
	bool release_all;
};

static struct script sc;
static struct vtd_mem m;
static struct virtio_mmio *t;
static struct virtio_fs *fs;
static struct vtd_queue hq, rq, rq2;
static const uint64_t ALL = VIRTIO_BIT(VIRTIO_F_VERSION_1) |
			    VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) |
			    VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC);

static size_t iov_copy_out(const struct iovec *iov, int cnt, void *dst, size_t max)
{
	size_t done = 0;

	for (int i = 0; i < cnt && done < max; i++) {
		size_t n = iov[i].iov_len < max - done ? iov[i].iov_len : max - done;

		memcpy((uint8_t *)dst + done, iov[i].iov_base, n);
		done += n;
	}
	return done;
}

static size_t iov_copy_in(const struct iovec *iov, int cnt, const void *src, size_t len)
{
	size_t done = 0;

	for (int i = 0; i < cnt && done < len; i++) {
		size_t n = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memcpy(iov[i].iov_base, (const uint8_t *)src + done, n);
		done += n;
	}
	return done;
}

static size_t scripted(void *opaque, const struct iovec *in, int in_cnt,
		       const struct iovec *out, int out_cnt)
{
	static __thread uint8_t buf[8192];
	struct fuse_in_header ih;
	struct fuse_out_header oh;
	size_t n = iov_copy_out(in, in_cnt, buf, sizeof(buf));

	(void)opaque;
	if (n < sizeof(ih)) {
		pthread_mutex_lock(&sc.lock);
		sc.garbage++;
		pthread_mutex_unlock(&sc.lock);
		return 0;
	}
	memcpy(&ih, buf, sizeof(ih));
	if (ih.opcode == FUSE_FORGET) {
		pthread_mutex_lock(&sc.lock);
		sc.forgets++;
		pthread_mutex_unlock(&sc.lock);
		return 0;
	}
	if (ih.opcode != OP_BLOCK && ih.opcode != OP_ECHO) {
		pthread_mutex_lock(&sc.lock);
		sc.garbage++;
		pthread_mutex_unlock(&sc.lock);
		return 0;
	}
	if (ih.opcode == OP_BLOCK) {
		pthread_mutex_lock(&sc.lock);
		sc.entered++;
		pthread_cond_broadcast(&sc.cond);
		while (!sc.release_all && !sc.released[ih.unique % 64])
			pthread_cond_wait(&sc.cond, &sc.lock);
		pthread_mutex_unlock(&sc.lock);
	}
	/* Reply: out header + the arguments echoed. */
	n -= sizeof(ih);
	oh.len = (uint32_t)(sizeof(oh) + n);
	oh.error = 0;
	oh.unique = ih.unique;
	memmove(buf + sizeof(oh), buf + sizeof(ih), n);
	memcpy(buf, &oh, sizeof(oh));
	n = iov_copy_in(out, out_cnt, buf, sizeof(oh) + n);
	pthread_mutex_lock(&sc.lock);
	sc.finished++;
	pthread_cond_broadcast(&sc.cond);
	pthread_mutex_unlock(&sc.lock);
	return n;
}

/* Wait (bounded, so a bug fails rather than hangs) until *counter >= want. */
static bool sc_wait(int *counter, int want)
{
	struct timespec ts;
	bool ok = true;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&sc.lock);
	while (*counter < want && ok)
		ok = pthread_cond_timedwait(&sc.cond, &sc.lock, &ts) != ETIMEDOUT;
	ok = *counter >= want;
	pthread_mutex_unlock(&sc.lock);
	return ok;
}

static void sc_release(uint64_t unique)
{
	pthread_mutex_lock(&sc.lock);
	sc.released[unique % 64] = true;
	pthread_cond_broadcast(&sc.cond);
	pthread_mutex_unlock(&sc.lock);
}

static void start_dev(int nrq, int threads)
{
	struct virtio_mmio_host h = { .mem = &m.mem, .base = 0xd0000000 };
	char err[128];

	fs = virtio_fs_create_with("myfs", scripted, NULL, nrq, threads, err, sizeof(err));
	cr_assert_not_null(fs, "%s", err);
	t = virtio_mmio_create(&h, &virtio_fs_dev_ops, fs);
	cr_assert_not_null(t);
}

/* Linux virtio_fs probe: hiprio + request queue(s). */
static void bring_up(uint16_t rq_size, int nrq)
{
	vtd_queue_init(&hq, &m, 16);
	vtd_queue_init(&rq, &m, rq_size);
	cr_assert(vtd_negotiate(t, ALL));
	cr_assert(vtd_setup_queue(t, 0, &hq));
	cr_assert(vtd_setup_queue(t, 1, &rq));
	if (nrq > 1) {
		vtd_queue_init(&rq2, &m, rq_size);
		cr_assert(vtd_setup_queue(t, 2, &rq2));
	}
	vtd_driver_ok(t);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}

static void setup_n(int nrq, int threads, uint16_t rq_size)
{
	log_max_level = LOG_ERR;
	memset(&sc, 0, sizeof(sc));
	pthread_mutex_init(&sc.lock, NULL);
	pthread_cond_init(&sc.cond, NULL);
	vtd_mem_init(&m, false);
	start_dev(nrq, threads);
	bring_up(rq_size, nrq);
}

static void setup(void) { setup_n(1, 4, 64); }
static void setup_wide(void) { setup_n(2, 8, 64); }
static void setup_small(void) { setup_n(1, 4, 8); }
static void setup_inline(void) { setup_n(1, 0, 64); }

static void teardown(void)
{
	pthread_mutex_lock(&sc.lock);
	sc.release_all = true;
	pthread_cond_broadcast(&sc.cond);
	pthread_mutex_unlock(&sc.lock);
	/* NULLed so that a second teardown (Criterion's abort path after a failed
	 * assertion) reports the failure instead of freeing twice. */
	virtio_mmio_destroy(t);
	t = NULL;
	virtio_fs_destroy(fs);
	fs = NULL;
	if (m.mem.nr_regions)
		vtd_mem_free(&m);
	memset(&m, 0, sizeof(m));
	log_max_level = LOG_INFO;
}

static bool use_indirect = true;

struct sent {
	uint16_t head;
	uint64_t out_gpa;   /* fuse_out_header + payload */
};

/* A request laid out like virtio_fs_enqueue_req: in header, in args (readable), out
 * header, out args (writable), through one indirect table. Kicked via QueueNotify. */
static struct sent send(struct vtd_queue *q, uint32_t qidx, uint32_t opcode, uint64_t unique,
			const void *arg, uint32_t arglen, uint32_t outlen)
{
	struct fuse_in_header ih = { .len = (uint32_t)sizeof(ih) + arglen, .opcode = opcode,
				     .unique = unique, .nodeid = 1 };
	uint64_t in = vtd_alloc(&m, sizeof(ih) + arglen, 8);
	struct sent s = { .out_gpa = vtd_alloc(&m, sizeof(struct fuse_out_header) + outlen, 8) };
	struct vtd_buf b[4];
	int n = 0;

	memcpy(vtd_ptr(&m, in), &ih, sizeof(ih));
	memcpy((uint8_t *)vtd_ptr(&m, in) + sizeof(ih), arg, arglen);
	b[n++] = (struct vtd_buf){ in, sizeof(ih), false };
	if (arglen)
		b[n++] = (struct vtd_buf){ in + sizeof(ih), arglen, false };
	if (opcode != FUSE_FORGET) {
		b[n++] = (struct vtd_buf){ s.out_gpa, sizeof(struct fuse_out_header), true };
		if (outlen)
			b[n++] = (struct vtd_buf){ s.out_gpa + sizeof(struct fuse_out_header),
						   outlen, true };
	}
	s.head = vtd_add_chain(q, b, n, use_indirect);
	vtd_publish(q, s.head);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_NOTIFY, qidx);
	return s;
}

static void expect_echo(struct vtd_queue *q, struct sent s, uint64_t unique, const char *arg)
{
	uint32_t id, len;
	struct fuse_out_header oh;

	cr_assert(vtd_wait_used(t, q, &id, &len), "no reply");
	cr_assert_eq(id, s.head);
	cr_assert_eq(len, sizeof(oh) + strlen(arg), "used len is the reply length");
	memcpy(&oh, vtd_ptr(&m, s.out_gpa), sizeof(oh));
	cr_assert_eq(oh.unique, unique);
	cr_assert_eq(oh.len, len);
	cr_assert_eq(memcmp((uint8_t *)vtd_ptr(&m, s.out_gpa) + sizeof(oh), arg, strlen(arg)), 0);
}

TestSuite(virtio_fs, .init = setup, .fini = teardown);

Test(virtio_fs, config_space_and_ids)
{
	char tag[VIRTIO_FS_TAG_MAX + 1] = { 0 };
	uint32_t nrq;

	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_DEVICE_ID), 26);
	for (int i = 0; i < VIRTIO_FS_TAG_MAX; i++)
		virtio_mmio_bus_ops.read(t, 0x100 + (uint64_t)i, &tag[i], 1);
	cr_assert_str_eq(tag, "myfs");
	nrq = vtd_read32(t, 0x100 + VIRTIO_FS_TAG_MAX);
	cr_assert_eq(nrq, 1);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_SEL, 1);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 1024);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_SEL, 2);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "only hiprio + 1 request queue");
}

Test(virtio_fs, create_rejects_bad_arguments)
{
	char err[128];

	cr_assert_null(virtio_fs_create_with("", scripted, NULL, 1, 1, err, sizeof(err)));
	cr_assert_null(virtio_fs_create_with("0123456789012345678901234567890123456", scripted,
					     NULL, 1, 1, err, sizeof(err)), "37-byte tag");
	cr_assert_null(virtio_fs_create_with("x", scripted, NULL, 0, 1, err, sizeof(err)));
	cr_assert_null(virtio_fs_create_with("x", scripted, NULL, 17, 1, err, sizeof(err)));
}

Test(virtio_fs, request_and_reply)
{
	struct sent s = send(&rq, 1, OP_ECHO, 7, "hello", 5, 64);

	expect_echo(&rq, s, 7, "hello");
	cr_assert(vtd_read32(t, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_INT_USED ||
		  sc.finished == 1);
}

/* threads=0: no pool, the queue thread serves each request itself, in order. */
Test(virtio_fs, inline_requests_without_pool, .init = setup_inline, .fini = teardown)
{
	for (int round = 0; round < 20; round++) {
		struct sent s[4];

		for (int i = 0; i < 4; i++)
			s[i] = send(&rq, 1, OP_ECHO, (uint64_t)(round * 4 + i), "inline", 6, 32);
		for (int i = 0; i < 4; i++) {
			uint32_t id, len;

			cr_assert(vtd_wait_used(t, &rq, &id, &len));
			cr_assert_eq(id, s[i].head, "completed in submission order");
			cr_assert_eq(len, 16 + 6);
		}
	}
	cr_assert_eq(sc.finished, 80);
}

Test(virtio_fs, interrupt_reaches_irqfd)
{
	uint32_t id, len;

	send(&rq, 1, OP_ECHO, 1, "x", 1, 16);
	cr_assert(vtd_wait_fd(virtio_mmio_irq_fd(t), 10000), "first completion interrupts");
	cr_assert(vtd_read32(t, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_INT_USED);
	cr_assert(vtd_get_used(&rq, &id, &len));
}

Test(virtio_fs, many_requests_direct_chains)
{
	for (int round = 0; round < 50; round++) {
		struct sent s[8];

		use_indirect = false;
		for (int i = 0; i < 8; i++)
			s[i] = send(&rq, 1, OP_ECHO, (uint64_t)i, "abcdefgh", 8, 32);
		use_indirect = true;
		for (int i = 0; i < 8; i++) {
			uint32_t id, len;
			bool known = false;

			cr_assert(vtd_wait_used(t, &rq, &id, &len));
			cr_assert_eq(len, 16 + 8);
			for (int j = 0; j < 8; j++)
				known |= id == s[j].head;
			cr_assert(known);
		}
	}
	cr_assert_eq(sc.finished, 400);
}

Test(virtio_fs, forget_on_hiprio_has_no_reply)
{
	struct fuse_forget_in f = { .nlookup = 1 };
	uint32_t id, len;
	struct sent s = send(&hq, 0, FUSE_FORGET, 0, &f, sizeof(f), 0);

	cr_assert(vtd_wait_used(t, &hq, &id, &len));
	cr_assert_eq(id, s.head);
	cr_assert_eq(len, 0);
	cr_assert_eq(sc.forgets, 1);
}

Test(virtio_fs, garbage_on_hiprio)
{
	uint64_t junk = vtd_alloc(&m, 7, 8);
	struct vtd_buf b = { junk, 7, false };
	uint32_t id, len;
	struct sent s;

	memcpy(vtd_ptr(&m, junk), "\xff\xfe\x01garb", 7);
	vtd_publish(&hq, vtd_add_chain(&hq, &b, 1, false));
	vtd_write32(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert(vtd_wait_used(t, &hq, &id, &len));
	cr_assert_eq(len, 0);
	cr_assert(sc_wait(&sc.garbage, 1));
	/* A malformed chain breaks hiprio (DEVICE_NEEDS_RESET) ... */
	vtd_set_desc(&hq, 5, junk, 8, VIRTQ_DESC_F_NEXT, 5);
	vtd_publish(&hq, 5);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (int i = 0; i < 1000 && !(vtd_read32(t, VIRTIO_MMIO_STATUS) &
				      VIRTIO_STATUS_DEVICE_NEEDS_RESET); i++)
		vtd_wait_fd(virtio_mmio_irq_fd(t), 10);
	cr_assert(vtd_read32(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	/* ... but nook keeps serving until the driver resets, and comes back after. */
	s = send(&rq, 1, OP_ECHO, 3, "alive", 5, 16);
	expect_echo(&rq, s, 3, "alive");
	vtd_write32(t, VIRTIO_MMIO_STATUS, 0);
	bring_up(64, 1);
	s = send(&rq, 1, OP_ECHO, 4, "again", 5, 16);
	expect_echo(&rq, s, 4, "again");
}

Test(virtio_fs, out_of_order_completion, .init = setup_wide)
{
	static const int order[] = { 4, 2, 6, 1, 5, 3 };
	struct sent s[7];

	for (int u = 1; u <= 6; u++)
		s[u] = send(&rq, 1, OP_BLOCK, (uint64_t)u, "p", 1, 16);
	cr_assert(sc_wait(&sc.entered, 6), "all six in flight at once");
	cr_assert_eq(virtio_fs_inflight(fs, 1), 6);
	for (int i = 0; i < 6; i++) {
		uint32_t id, len;

		sc_release((uint64_t)order[i]);
		cr_assert(vtd_wait_used(t, &rq, &id, &len));
		cr_assert_eq(id, s[order[i]].head, "completion %d out of order", i);
		cr_assert_eq(len, 17);
	}
	cr_assert_eq(virtio_fs_inflight(fs, 1), 0);
}

Test(virtio_fs, two_request_queues, .init = setup_wide)
{
	struct sent a = send(&rq, 1, OP_ECHO, 1, "one", 3, 16);
	struct sent b = send(&rq2, 2, OP_ECHO, 2, "two", 3, 16);

	expect_echo(&rq2, b, 2, "two");
	expect_echo(&rq, a, 1, "one");
}

Test(virtio_fs, reset_mid_request)
{
	struct sent s;

	send(&rq, 1, OP_BLOCK, 9, "slow", 4, 16);
	cr_assert(sc_wait(&sc.entered, 1));
	/* The guest resets while the request is inside the server. */
	vtd_write32(t, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_STATUS), 0);
	sc_release(9);
	cr_assert(sc_wait(&sc.finished, 1));
	/* The worker finished, but must not have touched the (old) used ring. Its
	 * completion is dropped under the queue lock, so once inflight is 0... */
	for (int i = 0; i < 1000 && virtio_fs_inflight(fs, 1); i++)
		vtd_wait_fd(virtio_mmio_irq_fd(t), 1);
	virtio_mmio_destroy(t);   /* joins nothing new; makes the drop observable */
	t = NULL;
	cr_assert_eq(vtd_used_idx(&rq), 0, "used ring written after reset");
	{
		struct virtio_mmio_host h = { .mem = &m.mem };

		t = virtio_mmio_create(&h, &virtio_fs_dev_ops, fs);
		cr_assert_not_null(t);
	}
	bring_up(64, 1);
	s = send(&rq, 1, OP_ECHO, 10, "fresh", 5, 16);
	expect_echo(&rq, s, 10, "fresh");
}

Test(virtio_fs, reset_with_queued_requests)
{
	/* More blocked requests than workers: some wait in the pool when the reset comes
	 * and are dropped without dispatch. */
	for (int u = 0; u < 12; u++)
		send(&rq, 1, OP_BLOCK, (uint64_t)u, "q", 1, 16);
	cr_assert(sc_wait(&sc.entered, 4));
	vtd_write32(t, VIRTIO_MMIO_STATUS, 0);
	pthread_mutex_lock(&sc.lock);
	sc.release_all = true;
	pthread_cond_broadcast(&sc.cond);
	pthread_mutex_unlock(&sc.lock);
	cr_assert(sc_wait(&sc.finished, 4));
	cr_assert_eq(vtd_used_idx(&rq), 0);
	bring_up(64, 1);
	{
		struct sent s = send(&rq, 1, OP_ECHO, 1, "ok", 2, 16);

		expect_echo(&rq, s, 1, "ok");
	}
	cr_assert_lt(sc.entered, 12, "stale queued requests were not dispatched");
}

Test(virtio_fs, stalled_guest_bounds_work, .init = setup_small)
{
	struct sent s[8];
	struct virtq_avail *a;
	uint32_t id, len;
	int got = 0;

	for (int u = 0; u < 8; u++)
		s[u] = send(&rq, 1, OP_BLOCK, (uint64_t)u, "z", 1, 16);
	cr_assert(sc_wait(&sc.entered, 4));
	for (int i = 0; i < 1000 && virtio_fs_inflight(fs, 1) < 8; i++)
		vtd_wait_fd(virtio_mmio_irq_fd(t), 1);
	cr_assert_eq(virtio_fs_inflight(fs, 1), 8, "a full queue is in flight");
	/* A hostile guest re-posts the same 8 buffers without reclaiming anything. */
	a = vtd_ptr(&m, rq.avail);
	for (int u = 0; u < 8; u++)
		vtd_publish(&rq, s[u].head);
	(void)a;
	for (int k = 0; k < 20; k++) {
		vtd_write32(t, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
		cr_assert_leq(virtio_fs_inflight(fs, 1), 8, "in-flight work is capped");
	}
	cr_assert_eq(vtd_used_idx(&rq), 0);
	/* Once the server moves again, everything drains (the re-posted ones too). */
	pthread_mutex_lock(&sc.lock);
	sc.release_all = true;
	pthread_cond_broadcast(&sc.cond);
	pthread_mutex_unlock(&sc.lock);
	while (got < 16 && vtd_wait_used(t, &rq, &id, &len))
		got++;
	cr_assert_eq(got, 16);
	cr_assert_eq(sc.finished, 16);
}

Test(virtio_fs, destroy_while_running)
{
	send(&rq, 1, OP_ECHO, 1, "bye", 3, 16);
	/* teardown destroys transport and device with the queue threads live */
}

Test(virtio_fs, shm_regions_for_dax_and_version_table)
{
	vtd_write32(t, VIRTIO_MMIO_SHM_SEL, VIRTIO_FS_SHM_DAX);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_LEN_LOW), ~0u, "no DAX window by default");
	cr_assert_eq(virtio_fs_set_shm_region(fs, VIRTIO_FS_SHM_DAX, 0x100000000ULL, 1ULL << 30), 0);
	cr_assert_eq(virtio_fs_set_shm_region(fs, VIRTIO_FS_SHM_VERSION, 0x140000000ULL, 4096), 0);
	cr_assert_eq(virtio_fs_set_shm_region(fs, 2, 0, 4096), -EINVAL);
	cr_assert_eq(virtio_fs_set_shm_region(fs, 0, UINT64_MAX, 2), -EINVAL);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_LEN_LOW), 1u << 30);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_LEN_HIGH), 0);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_BASE_LOW), 0);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_BASE_HIGH), 1);
	vtd_write32(t, VIRTIO_MMIO_SHM_SEL, VIRTIO_FS_SHM_VERSION);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_LEN_LOW), 4096);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_BASE_HIGH), 1);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_BASE_LOW), 0x40000000u);
	cr_assert_eq(virtio_fs_set_shm_region(fs, VIRTIO_FS_SHM_VERSION, 0, 0), 0);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_SHM_LEN_LOW), ~0u);
}

/* vCPU-side resets racing device threads and workers: 100 rounds of bring-up, a burst of
 * requests on both queues, and a reset while they are still in flight. */
Test(virtio_fs, reset_storm)
{
	struct sent s;

	for (int round = 0; round < 100; round++) {
		m.next = VTD_RAM_GPA;   /* reuse guest RAM like a rebooting guest */
		if (round)
			bring_up(64, 1);
		for (int r = 0; r < 24; r++) {
			if (r % 6 == 0) {
				struct fuse_forget_in f = { .nlookup = 1 };

				send(&hq, 0, FUSE_FORGET, (uint64_t)r, &f, sizeof(f), 0);
			} else {
				send(&rq, 1, OP_ECHO, (uint64_t)r, "storm", 5, 16);
			}
		}
		vtd_write32(t, VIRTIO_MMIO_STATUS, 0);
		cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_STATUS), 0);
		cr_assert_eq(virtio_fs_inflight(fs, 1), 0);
	}
	bring_up(64, 1);
	s = send(&rq, 1, OP_ECHO, 99, "calm", 4, 16);
	expect_echo(&rq, s, 99, "calm");
}

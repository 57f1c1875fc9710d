/* Split virtqueue walker: valid chains, every malformed-chain case, notifications. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "devices/virtq.h"
#include "tests/unit/virtio_test_driver.h"
#include "vmm/log.h"

#define QSZ 8

static struct vtd_mem m;
static struct vtd_queue dq;
static struct virtq vq;
static struct iovec rd[64], wr[64];
static struct virtq_elem e;
static int resets;

static void on_reset(void *opaque)
{
	(void)opaque;
	resets++;
}

static void setup_common(bool split, bool event_idx, bool indirect)
{
	struct virtq_config c;
	const char *why = NULL;

	log_max_level = LOG_ERR;   /* the bad-chain cases log by design */
	vtd_mem_init(&m, split);
	vtd_queue_init(&dq, &m, QSZ);
	memset(&vq, 0, sizeof(vq));
	vq.needs_reset = on_reset;
	resets = 0;
	c = vtd_queue_config(&dq, event_idx, indirect);
	cr_assert_eq(virtq_setup(&vq, &m.mem, &c, &why), 0, "%s", why);
	memset(&e, 0, sizeof(e));
	e.read = rd;
	e.write = wr;
	e.max_iov = 64;
}

static void setup(void) { setup_common(false, true, true); }
static void setup_noind(void) { setup_common(false, false, false); }
static void setup_split(void) { setup_common(true, false, true); }
static void teardown(void) { vtd_mem_free(&m); log_max_level = LOG_INFO; }

static uint64_t buf(uint32_t len)
{
	return vtd_alloc(&m, len, 8);
}

/* The queue must be broken: -1 now and on every later pop, reset hook called once. */
static void expect_broken(void)
{
	cr_assert_eq(virtq_pop(&vq, &e), -1);
	cr_assert(vq.broken);
	cr_assert_eq(resets, 1);
	cr_assert_eq(virtq_pop(&vq, &e), -1);
	cr_assert_eq(resets, 1, "needs_reset is raised once");
}

TestSuite(virtq, .init = setup, .fini = teardown);

Test(virtq, direct_chain_read_then_write)
{
	uint64_t a = buf(16), b = buf(100), c = buf(40), d = buf(4096);
	struct vtd_buf bufs[] = { { a, 16, false }, { b, 100, false },
				  { c, 40, true }, { d, 4096, true } };
	uint32_t id, len;
	uint16_t head;

	memcpy(vtd_ptr(&m, a), "0123456789abcdef", 16);
	head = vtd_add_chain(&dq, bufs, 4, false);
	vtd_publish(&dq, head);
	cr_assert_eq(virtq_pop(&vq, &e), 1);
	cr_assert_eq(e.head, head);
	cr_assert_eq(e.nr_read, 2);
	cr_assert_eq(e.nr_write, 2);
	cr_assert_eq(e.read_len, 116);
	cr_assert_eq(e.write_len, 4136);
	cr_assert_eq(rd[0].iov_base, vtd_ptr(&m, a));
	cr_assert_eq(memcmp(rd[0].iov_base, "0123456789abcdef", 16), 0);
	cr_assert_eq(rd[1].iov_len, 100);
	cr_assert_eq(wr[1].iov_base, vtd_ptr(&m, d));
	cr_assert_eq(wr[1].iov_len, 4096);
	cr_assert_eq(virtq_pop(&vq, &e), 0, "ring is empty");

	virtq_push(&vq, head, 123);
	cr_assert(vtd_get_used(&dq, &id, &len));
	cr_assert_eq(id, head);
	cr_assert_eq(len, 123, "used len is exactly the bytes written");
	cr_assert_not(vtd_get_used(&dq, &id, &len));
}

Test(virtq, indirect_chain)
{
	struct vtd_buf bufs[5];
	uint16_t head;

	for (int i = 0; i < 5; i++)
		bufs[i] = (struct vtd_buf){ buf(64), 64, i >= 2 };
	head = vtd_add_chain(&dq, bufs, 5, true);
	vtd_publish(&dq, head);
	cr_assert_eq(virtq_pop(&vq, &e), 1);
	cr_assert_eq(e.head, head);
	cr_assert_eq(e.nr_read, 2);
	cr_assert_eq(e.nr_write, 3);
	cr_assert_eq(wr[2].iov_base, vtd_ptr(&m, bufs[4].gpa));
}

Test(virtq, out_of_order_push_and_wraparound)
{
	/* 3 * 65536 / QSZ rounds wrap the 16-bit indices several times. */
	for (int round = 0; round < 3 * 65536 / 4; round++) {
		uint16_t heads[4];
		uint32_t id, len;

		for (int i = 0; i < 4; i++) {
			struct vtd_buf b = { VTD_RAM_GPA, 8, true };

			heads[i] = vtd_add_chain(&dq, &b, 1, false);
			vtd_publish(&dq, heads[i]);
		}
		for (int i = 0; i < 4; i++) {
			cr_assert_eq(virtq_pop(&vq, &e), 1);
			cr_assert_eq(e.head, heads[i]);
		}
		for (int i = 3; i >= 0; i--)
			virtq_push(&vq, heads[i], (uint32_t)i);
		for (int i = 3; i >= 0; i--) {
			cr_assert(vtd_get_used(&dq, &id, &len));
			cr_assert_eq(id, heads[i]);
			cr_assert_eq(len, (uint32_t)i);
		}
		if (round % 1000 == 0)
			cr_assert_eq(virtq_pop(&vq, &e), 0);
	}
}

Test(virtq, zero_length_buffer_is_skipped)
{
	struct vtd_buf bufs[] = { { buf(8), 8, false }, { 0, 0, true }, { buf(8), 8, true } };

	vtd_publish(&dq, vtd_add_chain(&dq, bufs, 3, false));
	cr_assert_eq(virtq_pop(&vq, &e), 1);
	cr_assert_eq(e.nr_write, 1);
}

Test(virtq, bad_buffer_outside_ram)
{
	struct vtd_buf b = { VTD_RAM_GPA + VTD_RAM_SIZE - 8, 16, true };

	vtd_publish(&dq, vtd_add_chain(&dq, &b, 1, false));
	expect_broken();
}

Test(virtq, bad_buffer_below_ram)
{
	struct vtd_buf b = { 0x1000, 16, false };

	vtd_publish(&dq, vtd_add_chain(&dq, &b, 1, false));
	expect_broken();
}

Test(virtq, bad_length_overflow)
{
	vtd_set_desc(&dq, 0, UINT64_MAX - 4, 0x1000, 0, 0);
	vtd_publish(&dq, 0);
	expect_broken();
}

Test(virtq, bad_loop)
{
	vtd_set_desc(&dq, 0, buf(8), 8, VIRTQ_DESC_F_NEXT, 1);
	vtd_set_desc(&dq, 1, buf(8), 8, VIRTQ_DESC_F_NEXT, 0);
	vtd_publish(&dq, 0);
	expect_broken();
}

Test(virtq, bad_self_loop)
{
	vtd_set_desc(&dq, 3, buf(8), 8, VIRTQ_DESC_F_NEXT, 3);
	vtd_publish(&dq, 3);
	expect_broken();
}

Test(virtq, chain_of_exactly_queue_size_is_fine)
{
	for (uint16_t i = 0; i < QSZ; i++)
		vtd_set_desc(&dq, i, buf(8), 8, i + 1 < QSZ ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	vtd_publish(&dq, 0);
	cr_assert_eq(virtq_pop(&vq, &e), 1);
	cr_assert_eq(e.nr_read, QSZ);
}

Test(virtq, bad_next_out_of_range)
{
	vtd_set_desc(&dq, 0, buf(8), 8, VIRTQ_DESC_F_NEXT, QSZ);
	vtd_publish(&dq, 0);
	expect_broken();
}

Test(virtq, bad_head_out_of_range)
{
	vtd_publish(&dq, QSZ + 3);
	expect_broken();
}

Test(virtq, bad_readable_after_writable)
{
	struct vtd_buf bufs[] = { { buf(8), 8, true }, { buf(8), 8, false } };

	vtd_publish(&dq, vtd_add_chain(&dq, bufs, 2, false));
	expect_broken();
}

Test(virtq, bad_readable_after_writable_indirect)
{
	struct vtd_buf bufs[] = { { buf(8), 8, false }, { buf(8), 8, true },
				  { buf(8), 8, false } };

	vtd_publish(&dq, vtd_add_chain(&dq, bufs, 3, true));
	expect_broken();
}

Test(virtq, bad_avail_idx_jump)
{
	struct virtq_avail *a = vtd_ptr(&m, dq.avail);

	__atomic_store_n(&a->idx, QSZ + 1, __ATOMIC_RELEASE);
	expect_broken();
}

Test(virtq, avail_idx_exactly_size_ahead_is_fine)
{
	for (int i = 0; i < QSZ; i++) {
		struct vtd_buf b = { buf(8), 8, false };

		vtd_publish(&dq, vtd_add_chain(&dq, &b, 1, false));
	}
	for (int i = 0; i < QSZ; i++)
		cr_assert_eq(virtq_pop(&vq, &e), 1);
	cr_assert_eq(virtq_pop(&vq, &e), 0);
}

Test(virtq, bad_too_many_iovecs)
{
	struct vtd_buf bufs[4];

	for (int i = 0; i < 4; i++)
		bufs[i] = (struct vtd_buf){ buf(8), 8, false };
	e.max_iov = 3;
	vtd_publish(&dq, vtd_add_chain(&dq, bufs, 4, false));
	expect_broken();
}

static uint64_t indirect_table(int n)
{
	uint64_t t = vtd_alloc(&m, 16ULL * (n ? n : 1), 16);

	for (int i = 0; i < n; i++) {
		struct virtq_desc d = { buf(8), 8, i + 1 < n ? VIRTQ_DESC_F_NEXT : 0,
					(uint16_t)(i + 1) };

		memcpy((uint8_t *)vtd_ptr(&m, t) + 16 * i, &d, 16);
	}
	return t;
}

Test(virtq, bad_indirect_size_not_multiple_of_16)
{
	vtd_set_desc(&dq, 0, indirect_table(2), 24, VIRTQ_DESC_F_INDIRECT, 0);
	vtd_publish(&dq, 0);
	expect_broken();
}

Test(virtq, bad_indirect_zero_length)
{
	vtd_set_desc(&dq, 0, indirect_table(1), 0, VIRTQ_DESC_F_INDIRECT, 0);
	vtd_publish(&dq, 0);
	expect_broken();
}

Test(virtq, bad_indirect_too_long)
{
	vtd_set_desc(&dq, 0, indirect_table(QSZ + 1), 16 * (QSZ + 1), VIRTQ_DESC_F_INDIRECT, 0);
	vtd_publish(&dq, 0);
	expect_broken();
}

Test(virtq, indirect_of_queue_size_is_fine)
{
	vtd_set_desc(&dq, 0, indirect_table(QSZ), 16 * QSZ, VIRTQ_DESC_F_INDIRECT, 0);
	vtd_publish(&dq, 0);
	cr_assert_eq(virtq_pop(&vq, &e), 1);
	cr_assert_eq(e.nr_read, QSZ);
}

Test(virtq, bad_indirect_with_next)
{
	vtd_set_desc(&dq, 0, indirect_table(2), 32, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	vtd_set_desc(&dq, 1, buf(8), 8, 0, 0);
	vtd_publish(&dq, 0);
	expect_broken();
}

Test(virtq, bad_indirect_nested)
{
	uint64_t inner = indirect_table(2), outer = indirect_table(1);
	struct virtq_desc d = { inner, 32, VIRTQ_DESC_F_INDIRECT, 0 };

	memcpy(vtd_ptr(&m, outer), &d, 16);
	vtd_set_desc(&dq, 0, outer, 16, VIRTQ_DESC_F_INDIRECT, 0);
	vtd_publish(&dq, 0);
	expect_broken();
}

Test(virtq, bad_indirect_loop)
{
	uint64_t t = indirect_table(3);
	struct virtq_desc d = { buf(8), 8, VIRTQ_DESC_F_NEXT, 0 };

	memcpy((uint8_t *)vtd_ptr(&m, t) + 32, &d, 16);   /* entry 2 -> 0 */
	vtd_set_desc(&dq, 0, t, 48, VIRTQ_DESC_F_INDIRECT, 0);
	vtd_publish(&dq, 0);
	expect_broken();
}

Test(virtq, bad_indirect_next_out_of_table)
{
	uint64_t t = indirect_table(2);
	struct virtq_desc d = { buf(8), 8, VIRTQ_DESC_F_NEXT, 2 };

	memcpy((uint8_t *)vtd_ptr(&m, t) + 16, &d, 16);
	vtd_set_desc(&dq, 0, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vtd_publish(&dq, 0);
	expect_broken();
}

Test(virtq, bad_indirect_table_outside_ram)
{
	vtd_set_desc(&dq, 0, VTD_RAM_GPA + VTD_RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vtd_publish(&dq, 0);
	expect_broken();
}

Test(virtq, bad_indirect_not_at_head)
{
	vtd_set_desc(&dq, 0, buf(8), 8, VIRTQ_DESC_F_NEXT, 1);
	vtd_set_desc(&dq, 1, indirect_table(2), 32, VIRTQ_DESC_F_INDIRECT, 0);
	vtd_publish(&dq, 0);
	expect_broken();
}

Test(virtq, bad_indirect_not_negotiated, .init = setup_noind)
{
	vtd_set_desc(&dq, 0, indirect_table(2), 32, VIRTQ_DESC_F_INDIRECT, 0);
	vtd_publish(&dq, 0);
	expect_broken();
}

Test(virtq, buffer_across_region_boundary_is_split, .init = setup_split)
{
	uint64_t boundary = VTD_RAM_GPA + VTD_RAM_SIZE / 2;
	struct vtd_buf b = { boundary - 100, 300, true };

	vtd_publish(&dq, vtd_add_chain(&dq, &b, 1, false));
	cr_assert_eq(virtq_pop(&vq, &e), 1);
	cr_assert_eq(e.nr_write, 2);
	cr_assert_eq(wr[0].iov_len, 100);
	cr_assert_eq(wr[1].iov_len, 200);
	cr_assert_eq(wr[1].iov_base, gmem_ptr(&m.mem, boundary, 1));
	cr_assert_eq(e.write_len, 300);
}

Test(virtq, indirect_table_across_region_boundary_rejected, .init = setup_split)
{
	uint64_t boundary = VTD_RAM_GPA + VTD_RAM_SIZE / 2;

	vtd_set_desc(&dq, 0, boundary - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	vtd_publish(&dq, 0);
	expect_broken();
}

Test(virtq, setup_rejects_bad_layouts)
{
	struct virtq_config c = vtd_queue_config(&dq, false, false);
	struct virtq t = { 0 };
	const char *why;

	c.size = 6;
	cr_assert_eq(virtq_setup(&t, &m.mem, &c, &why), -EINVAL, "not a power of two");
	c.size = 0;
	cr_assert_eq(virtq_setup(&t, &m.mem, &c, &why), -EINVAL, "zero size");
	c.size = 16;
	c.max_size = 8;
	cr_assert_eq(virtq_setup(&t, &m.mem, &c, &why), -EINVAL, "above QueueNumMax");
	c = vtd_queue_config(&dq, false, false);
	c.desc_gpa += 8;
	cr_assert_eq(virtq_setup(&t, &m.mem, &c, &why), -EINVAL, "misaligned desc");
	c = vtd_queue_config(&dq, false, false);
	c.used_gpa += 2;
	cr_assert_eq(virtq_setup(&t, &m.mem, &c, &why), -EINVAL, "misaligned used");
	c = vtd_queue_config(&dq, false, false);
	c.avail_gpa = VTD_RAM_GPA + VTD_RAM_SIZE - 8;
	cr_assert_eq(virtq_setup(&t, &m.mem, &c, &why), -EINVAL, "avail ring ends outside RAM");
	c = vtd_queue_config(&dq, false, false);
	c.desc_gpa = UINT64_MAX - 15;
	cr_assert_eq(virtq_setup(&t, &m.mem, &c, &why), -EINVAL, "wrapping desc");
	c = vtd_queue_config(&dq, false, false);
	cr_assert_eq(virtq_setup(&t, &m.mem, &c, &why), 0);
}

Test(virtq, event_idx_used_event)
{
	struct vtd_buf b = { VTD_RAM_GPA, 8, true };

	for (int i = 0; i < 4; i++)
		vtd_publish(&dq, vtd_add_chain(&dq, &b, 1, false));
	for (int i = 0; i < 4; i++)
		cr_assert_eq(virtq_pop(&vq, &e), 1);
	virtq_push(&vq, 0, 0);
	cr_assert(virtq_should_notify(&vq), "first decision always notifies");
	/* Driver: interrupt me once used idx passes 2 (after the 3rd element). */
	vtd_set_used_event(&dq, 2);
	virtq_push(&vq, 1, 0);
	cr_assert_not(virtq_should_notify(&vq), "used idx 2 has not passed used_event 2");
	virtq_push(&vq, 2, 0);
	cr_assert(virtq_should_notify(&vq), "used idx 3 passed used_event 2");
	virtq_push(&vq, 3, 0);
	cr_assert_not(virtq_should_notify(&vq));
	cr_assert_not(virtq_should_notify(&vq), "nothing new pushed");
}

Test(virtq, event_idx_batched_push_crossing_event)
{
	struct vtd_buf b = { VTD_RAM_GPA, 8, true };

	for (int i = 0; i < 6; i++)
		vtd_publish(&dq, vtd_add_chain(&dq, &b, 1, false));
	for (int i = 0; i < 6; i++)
		cr_assert_eq(virtq_pop(&vq, &e), 1);
	virtq_push(&vq, 0, 0);
	cr_assert(virtq_should_notify(&vq));
	vtd_set_used_event(&dq, 3);
	for (int i = 1; i < 6; i++)
		virtq_push(&vq, (uint16_t)i, 0);
	cr_assert(virtq_should_notify(&vq), "batch [1,6) crosses used_event 3");
}

Test(virtq, avail_event_published_and_recheck)
{
	struct vtd_buf b = { VTD_RAM_GPA, 8, false };

	vtd_publish(&dq, vtd_add_chain(&dq, &b, 1, false));
	vtd_publish(&dq, vtd_add_chain(&dq, &b, 1, false));
	cr_assert_eq(virtq_pop(&vq, &e), 1);
	cr_assert(virtq_enable_notify(&vq), "one buffer still pending");
	cr_assert_eq(vtd_avail_event(&dq), 1);
	cr_assert_eq(virtq_pop(&vq, &e), 1);
	cr_assert_not(virtq_enable_notify(&vq));
	cr_assert_eq(vtd_avail_event(&dq), 2);
}

Test(virtq, no_interrupt_flag_without_event_idx, .init = setup_noind)
{
	struct virtq_avail *a = vtd_ptr(&m, dq.avail);
	struct vtd_buf b = { VTD_RAM_GPA, 8, true };

	vtd_publish(&dq, vtd_add_chain(&dq, &b, 1, false));
	cr_assert_eq(virtq_pop(&vq, &e), 1);
	virtq_push(&vq, e.head, 0);
	cr_assert(virtq_should_notify(&vq));
	a->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
	cr_assert_not(virtq_should_notify(&vq));
}

Test(virtq, setup_clears_broken_state)
{
	struct virtq_config c = vtd_queue_config(&dq, true, true);
	const char *why;

	vtd_publish(&dq, QSZ);
	expect_broken();
	vtd_queue_init(&dq, &m, QSZ);
	c = vtd_queue_config(&dq, true, true);
	cr_assert_eq(virtq_setup(&vq, &m.mem, &c, &why), 0);
	cr_assert_eq(virtq_pop(&vq, &e), 0);
}

/* Buffers inside a shm window (a DAX mmap used as an I/O buffer): only for callers that
 * allow them, counted, never turned into a RAM pointer. */
Test(virtq, window_buffers_only_when_allowed)
{
	static uint8_t fake[1];	/* stands for the window's host mapping, never dereferenced */
	uint64_t a = buf(16), win = 1ULL << 40;
	struct vtd_buf bufs[] = { { a, 16, false }, { win + 4096, 8192, true } };
	uint16_t head;

	cr_assert_eq(gmem_add_window(&m.mem, win, 1 << 20, fake), 0);
	head = vtd_add_chain(&dq, bufs, 2, false);
	vtd_publish(&dq, head);
	e.allow_window = true;
	cr_assert_eq(virtq_pop(&vq, &e), 1);
	cr_assert_eq(e.nr_window, 1);
	cr_assert_eq(e.nr_write, 1);
	cr_assert_eq(e.write[0].iov_base, fake + 4096);
	cr_assert_eq(e.write[0].iov_len, 8192);
	virtq_push(&vq, head, 0);
	/* Running past the window's end: rejected even when allowed. */
	bufs[1].gpa = win + (1 << 20) - 4096;
	head = vtd_add_chain(&dq, bufs, 2, false);
	vtd_publish(&dq, head);
	expect_broken();
}

Test(virtq, window_buffers_refused_by_default)
{
	static uint8_t fake[1];
	uint64_t a = buf(16), win = 1ULL << 40;
	struct vtd_buf bufs[] = { { a, 16, false }, { win, 4096, true } };

	cr_assert_eq(gmem_add_window(&m.mem, win, 1 << 20, fake), 0);
	vtd_publish(&dq, vtd_add_chain(&dq, bufs, 2, false));
	expect_broken();
}

/*
 * virtio-fs with the real FUSE server behind it: requests laid out exactly like Linux's
 * fs/fuse/virtio_fs.c (in header, in args, in pages | out header, out args, out pages),
 * over the virtio-mmio transport, against a temporary shared directory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio_mmio.h"
#include "devices/virtq.h"
#include "fs/fuse_abi.h"
#include "fs/fuse_server.h"
#include "fs/virtio_fs.h"
#include "tests/unit/virtio_test_driver.h"
#include "vmm/log.h"

#define PAGE 4096u
#define MIB (1u << 20)

static char dir[64];
static struct fuse_server *srv;
static struct virtio_fs *fs;
static struct virtio_mmio *t;
static struct vtd_mem m;
static struct vtd_queue hq, rq;
static uint64_t next_unique = 1;
static const uint64_t ALL = VIRTIO_BIT(VIRTIO_F_VERSION_1) |
			    VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) |
			    VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC);

/* One request on its way: where its reply goes. */
struct rq_sent {
	uint16_t head;
	uint64_t unique;
	uint64_t out_hdr, out_arg;
	uint64_t out_pages[256];
	uint32_t out_arglen, out_paylen;
};

static void bring_up(void)
{
	vtd_queue_init(&hq, &m, 16);
	vtd_queue_init(&rq, &m, 1024);
	cr_assert(vtd_negotiate(t, ALL));
	cr_assert(vtd_setup_queue(t, 0, &hq));
	cr_assert(vtd_setup_queue(t, 1, &rq));
	vtd_driver_ok(t);
}

/* Scattered pages, like a page-cache request: 4 KiB aligned with holes between. */
static bool scatter;   /* leave a hole after every payload page */

static uint64_t page_alloc(void)
{
	uint64_t g = vtd_alloc(&m, PAGE, PAGE);

	if (scatter)
		vtd_alloc(&m, PAGE, PAGE);
	return g;
}

static struct rq_sent send_req(struct vtd_queue *q, uint32_t qidx, uint32_t opcode,
			       uint64_t nodeid, const void *arg, uint32_t arglen,
			       const void *payload, uint32_t paylen, uint32_t out_arglen,
			       uint32_t out_paylen)
{
	static struct vtd_buf b[600];
	struct rq_sent s = { .unique = next_unique++, .out_arglen = out_arglen,
			     .out_paylen = out_paylen };
	struct fuse_in_header ih = { .len = (uint32_t)sizeof(ih) + arglen + paylen,
				     .opcode = opcode, .unique = s.unique, .nodeid = nodeid };
	uint64_t hdr = vtd_alloc(&m, sizeof(ih), 8);
	int n = 0;

	memcpy(vtd_ptr(&m, hdr), &ih, sizeof(ih));
	b[n++] = (struct vtd_buf){ hdr, sizeof(ih), false };
	if (arglen) {
		uint64_t a = vtd_alloc(&m, arglen, 8);

		memcpy(vtd_ptr(&m, a), arg, arglen);
		b[n++] = (struct vtd_buf){ a, arglen, false };
	}
	for (uint32_t off = 0; off < paylen; off += PAGE) {
		uint64_t p = page_alloc();
		uint32_t len = paylen - off < PAGE ? paylen - off : PAGE;

		memcpy(vtd_ptr(&m, p), (const uint8_t *)payload + off, len);
		b[n++] = (struct vtd_buf){ p, len, false };
	}
	if (opcode != FUSE_FORGET && opcode != FUSE_BATCH_FORGET) {
		s.out_hdr = vtd_alloc(&m, sizeof(struct fuse_out_header), 8);
		b[n++] = (struct vtd_buf){ s.out_hdr, sizeof(struct fuse_out_header), true };
		if (out_arglen) {
			s.out_arg = vtd_alloc(&m, out_arglen, 8);
			b[n++] = (struct vtd_buf){ s.out_arg, out_arglen, true };
		}
		for (uint32_t off = 0, i = 0; off < out_paylen; off += PAGE, i++) {
			s.out_pages[i] = page_alloc();
			b[n++] = (struct vtd_buf){ s.out_pages[i],
						   out_paylen - off < PAGE ? out_paylen - off : PAGE,
						   true };
		}
	}
	/* Linux uses an indirect table whenever a request has more than one sg. */
	s.head = vtd_add_chain(q, b, n, n > 1);
	vtd_publish(q, s.head);
	vtd_write32(t, VIRTIO_MMIO_QUEUE_NOTIFY, qidx);
	return s;
}

/* Wait for s's reply; returns its error and checks header/used length agree. */
static int reply(struct rq_sent *s, uint32_t *used_len)
{
	struct fuse_out_header oh;
	uint32_t id, len;

	cr_assert(vtd_wait_used(t, &rq, &id, &len), "no reply");
	cr_assert_eq(id, s->head, "replies of a lone request come in order");
	memcpy(&oh, vtd_ptr(&m, s->out_hdr), sizeof(oh));
	cr_assert_eq(oh.unique, s->unique);
	cr_assert_eq(oh.len, len, "used len == fuse_out_header.len");
	if (oh.error)
		cr_log_info("opcode reply error %d", oh.error);
	if (used_len)
		*used_len = len;
	return oh.error;
}

static void rm_tree(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void do_init(void)
{
	struct fuse_init_in in = { .major = 7, .minor = 38, .max_readahead = 131072,
				   .flags = FUSE_INIT_EXT | FUSE_MAX_PAGES | FUSE_ASYNC_READ };
	struct fuse_init_out out;
	struct rq_sent s = send_req(&rq, 1, FUSE_INIT, 0, &in, sizeof(in), NULL, 0,
				    sizeof(out), 0);
	uint32_t len;

	cr_assert_eq(reply(&s, &len), 0);
	cr_assert_eq(len, sizeof(struct fuse_out_header) + sizeof(out));
	memcpy(&out, vtd_ptr(&m, s.out_arg), sizeof(out));
	cr_assert_eq(out.major, 7);
	cr_assert_geq(out.max_write, MIB, "1 MiB writes are allowed");
}

static void setup(void)
{
	struct fs_options o;
	struct virtio_mmio_host h = { .mem = &m.mem };
	char err[256];

	log_max_level = LOG_ERR;
	strcpy(dir, "/tmp/nook-vfs-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	fs_options_init(&o);
	snprintf(o.source, sizeof(o.source), "%s", dir);
	srv = fuse_server_new(&o, err, sizeof(err));
	cr_assert_not_null(srv, "%s", err);
	fs = virtio_fs_create("share", srv, 1, 4, err, sizeof(err));
	cr_assert_not_null(fs, "%s", err);
	vtd_mem_init(&m, false);
	t = virtio_mmio_create(&h, &virtio_fs_dev_ops, fs);
	cr_assert_not_null(t);
	bring_up();
	do_init();
}

static void teardown(void)
{
	virtio_mmio_destroy(t);
	virtio_fs_destroy(fs);
	fuse_server_free(srv);
	vtd_mem_free(&m);
	rm_tree();
	log_max_level = LOG_INFO;
}

TestSuite(virtio_fs_fuse, .init = setup, .fini = teardown);

static uint64_t lookup(const char *name, struct fuse_entry_out *e)
{
	struct rq_sent s = send_req(&rq, 1, FUSE_LOOKUP, FUSE_ROOT_ID, name,
				    (uint32_t)strlen(name) + 1, NULL, 0, sizeof(*e), 0);
	int err = reply(&s, NULL);

	if (err)
		return 0;
	memcpy(e, vtd_ptr(&m, s.out_arg), sizeof(*e));
	return e->nodeid;
}

Test(virtio_fs_fuse, init_done_in_setup) {}

Test(virtio_fs_fuse, lookup_host_file)
{
	struct fuse_entry_out e;
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/hello.txt", dir);
	fd = open(path, O_CREAT | O_WRONLY, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "hi there", 8), 8);
	close(fd);
	cr_assert_neq(lookup("hello.txt", &e), 0);
	cr_assert_eq(e.attr.size, 8);
	cr_assert_eq(lookup("missing", &e), 0);
}

static void write_read(uint32_t size, bool scattered)
{
	struct fuse_create_in ci = { .flags = O_RDWR, .mode = 0100644, .umask = 022 };
	uint8_t carg[sizeof(ci) + 16];
	struct { struct fuse_entry_out e; struct fuse_open_out o; } co;
	struct fuse_write_in wi = { 0 };
	struct fuse_write_out wo;
	struct fuse_read_in ri = { 0 };
	struct rq_sent s;
	static uint8_t data[MIB], back[MIB];
	uint32_t len;
	char path[128];
	int fd;

	scatter = scattered;
	for (uint32_t i = 0; i < MIB; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 12));
	memcpy(carg, &ci, sizeof(ci));
	memcpy(carg + sizeof(ci), "big.bin", 8);
	s = send_req(&rq, 1, FUSE_CREATE, FUSE_ROOT_ID, carg, sizeof(ci) + 8, NULL, 0,
		     sizeof(co), 0);
	cr_assert_eq(reply(&s, NULL), 0);
	memcpy(&co, vtd_ptr(&m, s.out_arg), sizeof(co));

	/* WRITE: fuse_write_in, then the payload as 256 scattered guest pages. */
	wi.fh = co.o.fh;
	wi.size = size;
	s = send_req(&rq, 1, FUSE_WRITE, co.e.nodeid, &wi, sizeof(wi), data, size, sizeof(wo), 0);
	cr_assert_eq(reply(&s, NULL), 0);
	memcpy(&wo, vtd_ptr(&m, s.out_arg), sizeof(wo));
	cr_assert_eq(wo.size, size);

	snprintf(path, sizeof(path), "%s/big.bin", dir);
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, back, MIB, 0), (ssize_t)size);
	close(fd);
	cr_assert_eq(memcmp(back, data, size), 0, "host file holds the guest's bytes");

	/* READ: the reply lands straight in 256 scattered writable pages. */
	ri.fh = co.o.fh;
	ri.size = size;
	s = send_req(&rq, 1, FUSE_READ, co.e.nodeid, &ri, sizeof(ri), NULL, 0, 0, size);
	cr_assert_eq(reply(&s, &len), 0);
	cr_assert_eq(len, sizeof(struct fuse_out_header) + size, "exact bytes written");
	for (uint32_t i = 0; i < size / PAGE; i++)
		cr_assert_eq(memcmp(vtd_ptr(&m, s.out_pages[i]), data + i * PAGE, PAGE), 0,
			     "page %u", i);
}

/* 256 guest-contiguous pages: 256 descriptors, coalesced to one iovec for the server. */
Test(virtio_fs_fuse, create_write_read_1mib)
{
	write_read(MIB, false);
}

/* Scattered pages (one iovec each) up to the FUSE server's per-request iovec limit. */
Test(virtio_fs_fuse, create_write_read_scattered_256k)
{
	write_read(256 * 1024, true);
}

/* A Linux guest sends a 1 MiB WRITE/READ as 256 separate page descriptors, usually not
 * contiguous. */
Test(virtio_fs_fuse, create_write_read_scattered_1mib)
{
	write_read(MIB, true);
}

Test(virtio_fs_fuse, forget_on_hiprio)
{
	struct fuse_entry_out e;
	struct fuse_forget_in f = { .nlookup = 1 };
	struct rq_sent s;
	uint32_t id, len;
	char path[128];

	snprintf(path, sizeof(path), "%s/f", dir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	cr_assert_neq(lookup("f", &e), 0);
	s = send_req(&hq, 0, FUSE_FORGET, e.nodeid, &f, sizeof(f), NULL, 0, 0, 0);
	cr_assert(vtd_wait_used(t, &hq, &id, &len));
	cr_assert_eq(id, s.head);
	cr_assert_eq(len, 0, "FORGET has no reply");
	cr_assert_neq(lookup("f", &e), 0, "server fine after FORGET");
}

Test(virtio_fs_fuse, garbage_on_hiprio)
{
	struct fuse_entry_out e;
	uint8_t junk[300];
	uint32_t id, len;

	srand(1);
	for (int round = 0; round < 12; round++) {
		uint32_t n = (uint32_t)(rand() % (int)sizeof(junk)) + 1;
		uint64_t g = vtd_alloc(&m, n, 8);
		struct vtd_buf b[2] = { { g, n, false }, { vtd_alloc(&m, 64, 8), 64, true } };

		for (uint32_t i = 0; i < n; i++)
			junk[i] = (uint8_t)rand();
		if (round % 3 == 0 && n >= sizeof(struct fuse_in_header)) {
			/* a plausible header with lies in it */
			struct fuse_in_header *ih = (void *)junk;

			ih->opcode = round % 2 ? FUSE_FORGET : FUSE_BATCH_FORGET;
			ih->len = 0xffffff00u + (uint32_t)round;
		}
		memcpy(vtd_ptr(&m, g), junk, n);
		vtd_publish(&hq, vtd_add_chain(&hq, b, 1 + round % 2, true));
		vtd_write32(t, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		cr_assert(vtd_wait_used(t, &hq, &id, &len));
		cr_assert_leq(len, 64);
	}
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	cr_assert_eq(lookup("nothing", &e), 0);   /* request queue still serves */
}

Test(virtio_fs_fuse, many_in_flight)
{
	enum { N = 96 };
	static struct rq_sent s[N];
	bool seen[N] = { 0 };
	char path[128];

	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "%s/file%d", dir, i);
		close(open(path, O_CREAT | O_WRONLY, 0644));
	}
	for (int i = 0; i < N; i++) {
		char name[16];

		snprintf(name, sizeof(name), "file%d", i % 10);   /* 8 hits, 2 misses */
		s[i] = send_req(&rq, 1, FUSE_LOOKUP, FUSE_ROOT_ID, name,
				(uint32_t)strlen(name) + 1, NULL, 0, sizeof(struct fuse_entry_out), 0);
	}
	for (int k = 0; k < N; k++) {
		struct fuse_out_header oh;
		uint32_t id, len;
		int i;

		cr_assert(vtd_wait_used(t, &rq, &id, &len));
		for (i = 0; i < N && s[i].head != id; i++)
			;
		cr_assert_lt(i, N);
		cr_assert_not(seen[i], "each head completes once");
		seen[i] = true;
		memcpy(&oh, vtd_ptr(&m, s[i].out_hdr), sizeof(oh));
		cr_assert_eq(oh.unique, s[i].unique);
		cr_assert_eq(oh.len, len);
		cr_assert_eq(oh.error, i % 10 < 8 ? 0 : -ENOENT, "request %d", i);
	}
}

Test(virtio_fs_fuse, reset_during_writes)
{
	struct fuse_create_in ci = { .flags = O_RDWR, .mode = 0100644, .umask = 022 };
	uint8_t carg[sizeof(ci) + 8];
	struct { struct fuse_entry_out e; struct fuse_open_out o; } co;
	struct fuse_write_in wi = { 0 };
	struct fuse_entry_out e;
	static uint8_t data[256 * 1024];
	struct rq_sent s;
	uint16_t used_at_reset;

	memcpy(carg, &ci, sizeof(ci));
	memcpy(carg + sizeof(ci), "w.bin", 6);
	s = send_req(&rq, 1, FUSE_CREATE, FUSE_ROOT_ID, carg, sizeof(ci) + 6, NULL, 0,
		     sizeof(co), 0);
	cr_assert_eq(reply(&s, NULL), 0);
	memcpy(&co, vtd_ptr(&m, s.out_arg), sizeof(co));
	wi.fh = co.o.fh;
	wi.size = 256 * 1024;
	for (int i = 0; i < 12; i++) {
		wi.offset = (uint64_t)i * wi.size;
		send_req(&rq, 1, FUSE_WRITE, co.e.nodeid, &wi, sizeof(wi), data, wi.size,
			 sizeof(struct fuse_write_out), 0);
	}
	/* Reset with writes queued or running: after Status=0 returns, the old used
	 * ring must never move again. */
	vtd_write32(t, VIRTIO_MMIO_STATUS, 0);
	used_at_reset = vtd_used_idx(&rq);
	{
		struct vtd_queue old = rq;

		bring_up();
		do_init();
		/* The reset ended the FUSE session (DESTROY drops every node id), so the file
		 * is found again under a fresh node id. */
		cr_assert_neq(lookup("w.bin", &e), 0);
		virtio_mmio_destroy(t);   /* stops everything; nothing runs after this */
		t = NULL;
		virtio_fs_destroy(fs);
		fs = NULL;
		cr_assert_eq(vtd_used_idx(&old), used_at_reset);
		cr_assert_leq(used_at_reset, 14, "INIT, CREATE and at most the 12 WRITEs");
	}
}

/*
 * virtio-console device over the virtio-mmio transport, driven the way Linux's
 * drivers/char/virtio_console.c drives it: the control handshake, data both ways through
 * pipes (and a pty, a regular file, /dev/null), EOF, resize, flush, resets, and hostile
 * control messages. Host ends are pipes the test reads and writes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "devices/virtio_console.h"
#include "devices/virtio_mmio.h"
#include "devices/virtq.h"
#include "tests/unit/virtio_test_driver.h"
#include "vmm/log.h"

#define MAXP 4
#define NQ(n) (2 * ((n) + 1))
#define CRX 2
#define CTX 3
#define CBUF 512
#define PAGE 4096
#define NAME1 "org.nook.test"

static struct vtd_mem m;
static struct virtio_mmio *t;
static struct virtio_console *con;
static struct vtd_queue q[NQ(MAXP)];
static struct virtio_console_port_cfg cfg[MAXP];
static int nports;
static int in_w[MAXP], out_r[MAXP];      /* the test's ends of the port pipes */
static int owned[4 * MAXP], nowned;      /* fds closed at teardown */
static uint64_t crx_gpa[64], rx_gpa[MAXP][128];
static bool sized[MAXP];                 /* resize() called: PORT_READY brings a RESIZE */
static const uint64_t FEAT = VIRTIO_BIT(VIRTIO_F_VERSION_1) |
			     VIRTIO_BIT(VIRTIO_RING_F_EVENT_IDX) |
			     VIRTIO_BIT(VIRTIO_RING_F_INDIRECT_DESC) |
			     VIRTIO_BIT(VIRTIO_CONSOLE_F_SIZE) |
			     VIRTIO_BIT(VIRTIO_CONSOLE_F_MULTIPORT);

struct cmsg {
	uint32_t id, len;
	uint16_t event, value;
	uint8_t raw[CBUF];
};

static uint32_t rxq(uint32_t p) { return p ? 2 + 2 * p : 0; }
static uint32_t txq(uint32_t p) { return p ? 3 + 2 * p : 1; }

static int own(int fd)
{
	cr_assert_geq(fd, 0);
	owned[nowned++] = fd;
	return fd;
}

/* Close a test end early (EOF, EPIPE), so teardown does not close the number again. */
static void drop_fd(int fd)
{
	for (int i = 0; i < nowned; i++)
		if (owned[i] == fd)
			owned[i] = owned[--nowned];
	close(fd);
}

/* Pipes for port i's host side: the device reads in_fd and writes out_fd. */
static void port_pipes(int i, bool in, bool out)
{
	int p[2];

	cfg[i].in_fd = cfg[i].out_fd = in_w[i] = out_r[i] = -1;
	if (in) {
		cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
		cfg[i].in_fd = own(p[0]);
		in_w[i] = own(p[1]);
	}
	if (out) {
		cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
		out_r[i] = own(p[0]);
		cfg[i].out_fd = own(p[1]);
	}
}

static void notify(uint32_t qi)
{
	vtd_write32(t, VIRTIO_MMIO_QUEUE_NOTIFY, qi);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Like vtd_wait_used, with a deadline (negative checks use a short one). */
static bool wait_used(struct vtd_queue *vq, uint32_t *id, uint32_t *len, int ms)
{
	int64_t end = now_ms() + ms;

	do {
		vtd_set_used_event(vq, vq->last_used);
		if (vtd_get_used(vq, id, len))
			return true;
		if (vtd_wait_fd(virtio_mmio_irq_fd(t), 5))
			vtd_write32(t, VIRTIO_MMIO_INTERRUPT_ACK,
				    vtd_read32(t, VIRTIO_MMIO_INTERRUPT_STATUS));
	} while (now_ms() < end);
	return false;
}

static void post_ctrl_rx(int n)
{
	for (int i = 0; i < n; i++) {
		struct vtd_buf b = { vtd_alloc(&m, CBUF, 8), CBUF, true };
		uint16_t head = vtd_add_chain(&q[CRX], &b, 1, false);

		crx_gpa[head] = b.gpa;
		vtd_publish(&q[CRX], head);
	}
	notify(CRX);
}

/* Linux: find_vqs, DRIVER_OK, then fill the control rx queue. */
static void bring_up(int ctrl_bufs)
{
	/* Sized as Linux sizes them: what the device offers (a port without host input
	 * gets a token receive queue). */
	for (int i = 0; i < NQ(nports); i++) {
		vtd_write32(t, VIRTIO_MMIO_QUEUE_SEL, (uint32_t)i);
		vtd_queue_init(&q[i], &m, (uint16_t)vtd_read32(t, VIRTIO_MMIO_QUEUE_NUM_MAX));
	}
	cr_assert(vtd_negotiate(t, FEAT));
	for (int i = 0; i < NQ(nports); i++)
		cr_assert(vtd_setup_queue(t, (uint32_t)i, &q[i]));
	vtd_driver_ok(t);
	post_ctrl_rx(ctrl_bufs);
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}

static void start_with(int n, int ctrl_bufs)
{
	struct virtio_mmio_host h = { .mem = &m.mem, .base = 0xd0000000 };
	char err[128];

	nports = n;
	con = virtio_console_create(cfg, n, err, sizeof(err));
	cr_assert_not_null(con, "%s", err);
	t = virtio_mmio_create(&h, &virtio_console_dev_ops, con);
	cr_assert_not_null(t);
	bring_up(ctrl_bufs);
}

static void start(int n)
{
	start_with(n, 16);
}

static void resize(uint32_t port, uint16_t rows, uint16_t cols)
{
	virtio_console_resize(con, port, rows, cols);
	if (port < MAXP && cfg[port].console)
		sized[port] = true;
}

static void mem_only(void)
{
	log_max_level = LOG_ERR;
	memset(sized, 0, sizeof(sized));
	vtd_mem_init(&m, false);
	memset(cfg, 0, sizeof(cfg));
	nowned = 0;
}

/* Port 0: console with both pipes; 1: named, both pipes; 2: no host side. */
static void setup(void)
{
	mem_only();
	cfg[0].console = true;
	port_pipes(0, true, true);
	cfg[1].name = NAME1;
	port_pipes(1, true, true);
	port_pipes(2, false, false);
	start(3);
}

static void teardown(void)
{
	virtio_mmio_destroy(t);
	t = NULL;
	virtio_console_destroy(con);
	con = NULL;
	for (int i = 0; i < nowned; i++)
		close(owned[i]);
	nowned = 0;
	if (m.mem.nr_regions)
		vtd_mem_free(&m);
	memset(&m, 0, sizeof(m));
	log_max_level = LOG_INFO;
}

/* A control tx chain (bufs must be readable); waits until the device returns it, as
 * Linux's __send_control_msg spins. */
static void send_chain(uint32_t qi, const struct vtd_buf *b, int n, bool indirect)
{
	uint16_t head = vtd_add_chain(&q[qi], b, n, indirect);
	uint32_t id, len;

	vtd_publish(&q[qi], head);
	notify(qi);
	cr_assert(wait_used(&q[qi], &id, &len, 20000), "queue %u chain not returned", qi);
	cr_assert_eq(id, head);
	cr_assert_eq(len, 0);
}

static uint64_t guest_copy(const void *data, size_t len)
{
	uint64_t gpa = vtd_alloc(&m, len ? len : 1, 8);

	memcpy(vtd_ptr(&m, gpa), data, len);
	return gpa;
}

static void send_ctrl(uint32_t id, uint16_t event, uint16_t value)
{
	struct virtio_console_control c = { .id = id, .event = event, .value = value };
	struct vtd_buf b = { guest_copy(&c, sizeof(c)), sizeof(c), false };

	send_chain(CTX, &b, 1, false);
}

static bool recv_ctrl(struct cmsg *out, int ms)
{
	uint32_t id, len;
	struct vtd_buf b;
	uint16_t head;

	if (!wait_used(&q[CRX], &id, &len, ms))
		return false;
	cr_assert_lt(id, 64);
	cr_assert_leq(len, CBUF);
	memset(out, 0, sizeof(*out));
	memcpy(out->raw, vtd_ptr(&m, crx_gpa[id]), len);
	out->len = len;
	memcpy(&out->id, out->raw, 4);
	memcpy(&out->event, out->raw + 4, 2);
	memcpy(&out->value, out->raw + 6, 2);
	/* Re-post the buffer, as control_work_handler does. */
	b = (struct vtd_buf){ crx_gpa[id], CBUF, true };
	head = vtd_add_chain(&q[CRX], &b, 1, false);
	crx_gpa[head] = b.gpa;
	vtd_publish(&q[CRX], head);
	notify(CRX);
	return true;
}

static struct cmsg expect_ctrl(uint32_t id, uint16_t event, uint16_t value)
{
	struct cmsg c;

	cr_assert(recv_ctrl(&c, 20000), "no control message (wanted event %u port %u)",
		  event, id);
	cr_assert_eq(c.event, event, "event %u (port %u), wanted %u", c.event, c.id, event);
	cr_assert_eq(c.id, id, "port %u, wanted %u (event %u)", c.id, id, event);
	cr_assert_eq(c.value, value, "event %u value %u", event, c.value);
	return c;
}

static void expect_no_ctrl(int ms)
{
	struct cmsg c;

	cr_assert_not(recv_ctrl(&c, ms), "unexpected control message: event %u port %u",
		      c.event, c.id);
}

/* DEVICE_READY, PORT_ADD for each, PORT_READY for each with what it must bring. */
static void handshake(void)
{
	send_ctrl(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (int i = 0; i < nports; i++)
		expect_ctrl((uint32_t)i, VIRTIO_CONSOLE_PORT_ADD, 1);
	for (int i = 0; i < nports; i++) {
		send_ctrl((uint32_t)i, VIRTIO_CONSOLE_PORT_READY, 1);
		if (cfg[i].console)
			expect_ctrl((uint32_t)i, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
		if (cfg[i].console && sized[i])
			expect_ctrl((uint32_t)i, VIRTIO_CONSOLE_RESIZE, 0);
		if (cfg[i].name)
			expect_ctrl((uint32_t)i, VIRTIO_CONSOLE_PORT_NAME, 1);
		if (cfg[i].in_fd >= 0 || cfg[i].out_fd >= 0)
			expect_ctrl((uint32_t)i, VIRTIO_CONSOLE_PORT_OPEN, 1);
	}
}

static void open_port(uint32_t p)
{
	send_ctrl(p, VIRTIO_CONSOLE_PORT_OPEN, 1);
}

/* Guest write: len bytes in ndesc descriptors; published and kicked, not waited for. */
static uint16_t tx_start(uint32_t p, const uint8_t *data, size_t len, int ndesc, bool indirect,
			 bool kick)
{
	struct vtd_buf b[8];
	uint64_t gpa = guest_copy(data, len);
	size_t off = 0;
	uint16_t head;

	for (int i = 0; i < ndesc; i++) {
		size_t n = i == ndesc - 1 ? len - off : len / (size_t)ndesc;

		b[i] = (struct vtd_buf){ gpa + off, (uint32_t)n, false };
		off += n;
	}
	head = vtd_add_chain(&q[txq(p)], b, ndesc, indirect);
	vtd_publish(&q[txq(p)], head);
	if (kick)
		notify(txq(p));
	return head;
}

static void tx_wait(uint32_t p, uint16_t head)
{
	uint32_t id, len;

	cr_assert(wait_used(&q[txq(p)], &id, &len, 20000), "tx chain not returned");
	cr_assert_eq(id, head);
	cr_assert_eq(len, 0, "tx chains are returned with used length 0");
}

/* Read exactly n bytes from fd (bounded wait). */
static void read_exact(int fd, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		cr_assert_eq(poll(&p, 1, 20000), 1, "only %zu of %zu bytes arrived", got, n);
		r = read(fd, buf + got, n - got);
		cr_assert_gt(r, 0);
		got += (size_t)r;
	}
}

static int fionread(int fd)
{
	int n = -1;

	cr_assert_eq(ioctl(fd, FIONREAD, &n), 0);
	return n;
}

static void post_rx(uint32_t p, uint32_t size)
{
	struct vtd_buf b = { vtd_alloc(&m, size, 8), size, true };
	uint16_t head = vtd_add_chain(&q[rxq(p)], &b, 1, false);

	rx_gpa[p][head] = b.gpa;
	memset(vtd_ptr(&m, b.gpa), 0xee, size);
	vtd_publish(&q[rxq(p)], head);
	notify(rxq(p));
}

/* Collect exactly n bytes of port p's rx buffers into dst. */
static void rx_collect(uint32_t p, uint8_t *dst, size_t n)
{
	size_t got = 0;

	while (got < n) {
		uint32_t id, len;

		cr_assert(wait_used(&q[rxq(p)], &id, &len, 20000), "rx: %zu of %zu bytes", got, n);
		cr_assert_gt(len, 0, "a used rx buffer of 0 bytes reads as EOF in Linux");
		cr_assert_leq(got + len, n, "more data than was written");
		memcpy(dst + got, vtd_ptr(&m, rx_gpa[p][id]), len);
		got += len;
	}
}

static void fill_pattern(uint8_t *b, size_t n, uint32_t seed)
{
	static const uint8_t lead[] = { '\r', '\n', 0, '\r', '\r', '\n', 0x1b, 0xff };

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = i < sizeof(lead) ? lead[i] : (uint8_t)(seed >> 16);
	}
}

TestSuite(virtio_console, .init = setup, .fini = teardown);

Test(virtio_console, config_features_and_queues)
{
	uint32_t f;

	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_DEVICE_ID), 3);
	vtd_write32(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = vtd_read32(t, VIRTIO_MMIO_DEVICE_FEATURES);
	cr_assert(f & (1u << VIRTIO_CONSOLE_F_MULTIPORT));
	cr_assert(f & (1u << VIRTIO_CONSOLE_F_SIZE));
	cr_assert_not(f & (1u << VIRTIO_CONSOLE_F_EMERG_WRITE), "emerg_wr is not offered");
	cr_assert_eq(vtd_read32(t, 0x100), 0, "cols, rows");
	cr_assert_eq(vtd_read32(t, 0x104), 3, "max_nr_ports");
	cr_assert_eq(vtd_read32(t, 0x108), 0, "emerg_wr");
	vtd_write32(t, 0x108, 'x');   /* ignored */
	cr_assert_eq(vtd_read32(t, 0x10c), 0, "beyond the config space");
	resize(0, 25, 80);
	cr_assert_eq(vtd_read32(t, 0x100), 80u | 25u << 16, "config mirrors port 0's size");
	for (uint32_t i = 0; i < 9; i++) {
		vtd_write32(t, VIRTIO_MMIO_QUEUE_SEL, i);
		/* Even data queues receive; a port without in_fd gets 2 entries there. */
		uint32_t port = i < 2 ? 0 : i / 2 - 1;
		bool idle_rx = i != CRX && i != CTX && i % 2 == 0 && cfg[port].in_fd < 0;

		cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_QUEUE_NUM_MAX),
			     i == 8 ? 0 : i == CRX || i == CTX ? 64 : idle_rx ? 2 : 128, "queue %u", i);
	}
}

Test(virtio_console, handshake_in_linux_order)
{
	struct cmsg c;
	uint16_t sz[2];

	resize(0, 50, 132);   /* before the guest is up */
	send_ctrl(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (uint32_t i = 0; i < 3; i++)
		expect_ctrl(i, VIRTIO_CONSOLE_PORT_ADD, 1);
	expect_no_ctrl(100);
	send_ctrl(0, VIRTIO_CONSOLE_PORT_READY, 1);
	expect_ctrl(0, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
	c = expect_ctrl(0, VIRTIO_CONSOLE_RESIZE, 0);
	cr_assert_eq(c.len, 12);
	memcpy(sz, c.raw + 8, 4);
	cr_assert_eq(sz[0], 132, "cols first (spec, Linux 6.1.192)");
	cr_assert_eq(sz[1], 50);
	expect_ctrl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	send_ctrl(1, VIRTIO_CONSOLE_PORT_READY, 1);
	c = expect_ctrl(1, VIRTIO_CONSOLE_PORT_NAME, 1);
	cr_assert_eq(c.len, 8 + strlen(NAME1), "the used length sizes the name (no NUL)");
	cr_assert_eq(memcmp(c.raw + 8, NAME1, strlen(NAME1)), 0);
	expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 1);
	send_ctrl(2, VIRTIO_CONSOLE_PORT_READY, 1);
	send_ctrl(2, VIRTIO_CONSOLE_PORT_READY, 0);   /* a failed add: only logged */
	expect_no_ctrl(200);   /* port 2: no name, no host side, not a console */
	/* A second DEVICE_READY (driver reload) announces the ports again. */
	send_ctrl(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (uint32_t i = 0; i < 3; i++)
		expect_ctrl(i, VIRTIO_CONSOLE_PORT_ADD, 1);
}

struct reader {
	int fd;
	uint8_t *buf;
	size_t want, got;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	while (r->got < r->want) {
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 20000) != 1)
			break;
		n = read(r->fd, r->buf + r->got, r->want - r->got);
		if (n <= 0)
			break;
		r->got += (size_t)n;
	}
	return NULL;
}

Test(virtio_console, guest_to_host_one_mib_binary)
{
	const size_t total = 1 << 20;
	uint8_t *src = malloc(total), *dst = calloc(1, total), echo[4];
	struct reader r = { .fd = out_r[1], .buf = dst, .want = total };
	uint16_t heads[16];
	size_t off = 0;
	pthread_t th;
	int k = 0;

	handshake();
	fill_pattern(src, total, 7);
	cr_assert_eq(pthread_create(&th, NULL, reader_main, &r), 0);
	/* Chains of 1..4 descriptors, up to a page each, direct and indirect, 16 in flight. */
	while (off < total) {
		size_t len = 1 + (size_t)(k * 7919 % (4 * PAGE));
		int nd = 1 + k % 4;

		if (len > total - off)
			len = total - off;
		if ((size_t)nd > len)
			nd = 1;
		if (k >= 16)
			tx_wait(1, heads[k % 16]);
		heads[k % 16] = tx_start(1, src + off, len, nd, k % 3 == 0, true);
		off += len;
		k++;
	}
	for (int i = k > 16 ? k - 16 : 0; i < k; i++)
		tx_wait(1, heads[i % 16]);
	pthread_join(th, NULL);
	cr_assert_eq(r.got, total);
	cr_assert_eq(memcmp(src, dst, total), 0, "bytes changed on the way");
	/* The console port too: \r \n \0 unchanged. */
	tx_wait(0, tx_start(0, (const uint8_t *)"\r\n\0\n", 4, 2, false, true));
	read_exact(out_r[0], echo, 4);
	cr_assert_eq(memcmp(echo, "\r\n\0\n", 4), 0);
	free(src);
	free(dst);
}

Test(virtio_console, host_to_guest_with_backpressure)
{
	uint8_t src[10000], dst[10000];

	handshake();
	fill_pattern(src, sizeof(src), 3);
	/* Not open in the guest (Linux would drop the data): nothing is read. */
	post_rx(1, PAGE);
	cr_assert_eq(write(in_w[1], src, 100), 100);
	usleep(100 * 1000);
	cr_assert_eq(fionread(cfg[1].in_fd), 100, "read while the guest port was closed");
	open_port(1);
	rx_collect(1, dst, 100);
	cr_assert_eq(memcmp(src, dst, 100), 0);
	/* Open but no rx buffers: the data stays in the pipe. */
	cr_assert_eq(write(in_w[1], src + 100, sizeof(src) - 100), (ssize_t)sizeof(src) - 100);
	usleep(100 * 1000);
	cr_assert_eq(fionread(cfg[1].in_fd), (int)sizeof(src) - 100, "read with no guest buffer");
	for (int i = 0; i < 3; i++)
		post_rx(1, PAGE);
	rx_collect(1, dst + 100, sizeof(src) - 100);
	cr_assert_eq(memcmp(src, dst, sizeof(src)), 0);
	cr_assert_eq(fionread(cfg[1].in_fd), 0);
}

Test(virtio_console, eof_closes_only_after_the_data)
{
	uint8_t src[6000], dst[6000];

	handshake();
	open_port(1);
	fill_pattern(src, sizeof(src), 5);
	cr_assert_eq(write(in_w[1], src, sizeof(src)), (ssize_t)sizeof(src));
	drop_fd(in_w[1]);   /* EOF once the pipe is drained */
	post_rx(1, PAGE);
	rx_collect(1, dst, PAGE);
	/* 1904 bytes are still owed: no disconnect yet. */
	expect_no_ctrl(200);
	post_rx(1, PAGE);
	rx_collect(1, dst + PAGE, sizeof(src) - PAGE);
	/* EOF is a read, made when a buffer is posted: Linux re-posts each one it used. */
	post_rx(1, PAGE);
	expect_ctrl(1, VIRTIO_CONSOLE_PORT_OPEN, 0);
	cr_assert_eq(vtd_used_idx(&q[rxq(1)]), 2, "all data was used before the close");
	cr_assert_eq(memcmp(src, dst, sizeof(src)), 0);
	/* A new driver (reset) finds the port disconnected: no PORT_OPEN(1). */
	vtd_write32(t, VIRTIO_MMIO_STATUS, 0);
	bring_up(16);
	send_ctrl(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (uint32_t i = 0; i < 3; i++)
		expect_ctrl(i, VIRTIO_CONSOLE_PORT_ADD, 1);
	send_ctrl(1, VIRTIO_CONSOLE_PORT_READY, 1);
	expect_ctrl(1, VIRTIO_CONSOLE_PORT_NAME, 1);
	expect_no_ctrl(200);
}

Test(virtio_console, dev_null_input, .init = mem_only, .fini = teardown)
{
	uint8_t echo[10];
	struct cmsg c;
	bool closed[2] = { false, false };

	cfg[0].console = true;
	port_pipes(0, false, true);
	cfg[0].in_fd = own(open("/dev/null", O_RDONLY | O_CLOEXEC));
	port_pipes(1, false, false);
	cfg[1].in_fd = own(open("/dev/null", O_RDONLY | O_CLOEXEC));
	start(2);
	handshake();
	post_rx(0, PAGE);
	post_rx(1, PAGE);
	open_port(0);   /* what init_port_console does for the console port */
	open_port(1);
	for (int i = 0; i < 2; i++) {
		cr_assert(recv_ctrl(&c, 20000));
		cr_assert_eq(c.event, VIRTIO_CONSOLE_PORT_OPEN);
		cr_assert_eq(c.value, 0);
		cr_assert_lt(c.id, 2);
		closed[c.id] = true;
	}
	cr_assert(closed[0] && closed[1]);
	cr_assert_eq(vtd_used_idx(&q[rxq(0)]), 0, "no empty buffer for EOF");
	/* Output still flows after stdin ended. */
	tx_wait(0, tx_start(0, (const uint8_t *)"still here", 10, 1, false, true));
	read_exact(out_r[0], echo, 10);
	cr_assert_eq(memcmp(echo, "still here", 10), 0);
}

Test(virtio_console, regular_file_input, .init = mem_only, .fini = teardown)
{
	char path[] = "/tmp/vcon-test-XXXXXX";
	uint8_t src[10000], dst[10000];
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	unlink(path);
	fill_pattern(src, sizeof(src), 11);
	cr_assert_eq(write(fd, src, sizeof(src)), (ssize_t)sizeof(src));
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	port_pipes(0, false, false);
	cfg[0].in_fd = own(fd);
	start(1);
	handshake();
	open_port(0);
	for (int i = 0; i < 4; i++)
		post_rx(0, PAGE);
	rx_collect(0, dst, sizeof(dst));
	cr_assert_eq(memcmp(src, dst, sizeof(src)), 0);
	expect_ctrl(0, VIRTIO_CONSOLE_PORT_OPEN, 0);
}

Test(virtio_console, tty_input, .init = mem_only, .fini = teardown)
{
	static const uint8_t keys[] = { 'a', '\r', '\n', 0, 0x03, 0x1b, '[', 'A' };
	uint8_t dst[sizeof(keys)];
	struct termios tio;
	int master = posix_openpt(O_RDWR | O_NOCTTY), slave;

	if (master < 0 || grantpt(master) || unlockpt(master))
		cr_skip_test("no pty here");
	own(master);
	slave = own(open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC));
	cr_assert_eq(tcgetattr(slave, &tio), 0);
	cfmakeraw(&tio);   /* as nook's stdio console: bytes pass unchanged */
	cr_assert_eq(tcsetattr(slave, TCSANOW, &tio), 0);
	cfg[0].console = true;
	port_pipes(0, false, false);
	cfg[0].in_fd = slave;
	start(1);
	handshake();
	open_port(0);
	post_rx(0, PAGE);
	cr_assert_eq(write(master, keys, sizeof(keys)), (ssize_t)sizeof(keys));
	rx_collect(0, dst, sizeof(dst));
	cr_assert_eq(memcmp(keys, dst, sizeof(keys)), 0);
}

Test(virtio_console, resize_message_layout)
{
	struct cmsg c;
	uint16_t v[2];

	handshake();
	resize(0, 40, 100);
	c = expect_ctrl(0, VIRTIO_CONSOLE_RESIZE, 0);
	cr_assert_eq(c.len, 12, "header + {cols, rows}");
	memcpy(v, c.raw + 8, 4);
	cr_assert_eq(v[0], 100, "cols");
	cr_assert_eq(v[1], 40, "rows");
	resize(1, 10, 10);    /* not a console port */
	resize(99, 10, 10);   /* no such port */
	expect_no_ctrl(200);
}

Test(virtio_console, flush_writes_chains_left_in_the_ring)
{
	struct virtio_console_control dr = { VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1 };
	struct vtd_buf b = { guest_copy(&dr, sizeof(dr)), sizeof(dr), false };
	uint8_t a[3000], got[3000];
	uint16_t ctx_used;

	handshake();
	ctx_used = vtd_used_idx(&q[CTX]);
	fill_pattern(a, sizeof(a), 9);
	/* Published but never kicked: only flush() is bound to see them. */
	tx_start(1, a, 1000, 2, false, false);
	tx_start(1, a + 1000, 2000, 3, true, false);
	tx_start(0, (const uint8_t *)"bye!\n", 5, 1, false, false);
	vtd_publish(&q[CTX], vtd_add_chain(&q[CTX], &b, 1, false));
	virtio_console_flush(con);
	cr_assert_eq(fionread(out_r[1]), 3000, "flush returned before the data was written");
	cr_assert_eq(fionread(out_r[0]), 5);
	cr_assert_eq(vtd_used_idx(&q[txq(1)]), 2);
	cr_assert_eq(vtd_used_idx(&q[txq(0)]), 1);
	cr_assert_eq(vtd_used_idx(&q[CTX]), (uint16_t)(ctx_used + 1), "control tx is flushed too");
	read_exact(out_r[1], got, 3000);
	cr_assert_eq(memcmp(a, got, 3000), 0);
	for (uint32_t i = 0; i < 3; i++)
		expect_ctrl(i, VIRTIO_CONSOLE_PORT_ADD, 1);
	virtio_console_flush(con);   /* nothing left: returns at once */
}

Test(virtio_console, reset_mid_traffic)
{
	static uint8_t src[8 * PAGE], got[8 * PAGE];
	uint8_t in[10000], rx[10000];
	struct vtd_queue old_tx;
	int64_t t0;
	size_t n = 0;

	cr_assert_eq(fcntl(cfg[1].out_fd, F_SETPIPE_SZ, PAGE), PAGE);
	handshake();
	fill_pattern(src, sizeof(src), 13);
	fill_pattern(in, sizeof(in), 17);
	/* Host -> guest: the guest takes one page of 10000 bytes before the reset. */
	open_port(1);
	cr_assert_eq(write(in_w[1], in, sizeof(in)), (ssize_t)sizeof(in));
	post_rx(1, PAGE);
	rx_collect(1, rx, PAGE);
	/* Guest -> host: 32 KiB into a 4 KiB pipe nobody reads: the device blocks. */
	for (int i = 0; i < 8; i++)
		tx_start(1, src + i * PAGE, PAGE, 1, false, i == 7);
	for (int i = 0; i < 2000 && fionread(out_r[1]) < PAGE; i++)
		usleep(1000);
	cr_assert_eq(fionread(out_r[1]), PAGE);
	t0 = now_ms();
	vtd_write32(t, VIRTIO_MMIO_STATUS, 0);
	cr_assert_lt(now_ms() - t0, 1000, "reset waited for a blocked write");
	cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_STATUS), 0);
	cr_assert_eq(vtd_used_idx(&q[txq(1)]), 0);
	old_tx = q[txq(1)];
	/* A new driver sets up while the old write still blocks; once it completes,
	 * neither the old rings nor the new ones may see its chains. */
	bring_up(16);
	for (;;) {
		struct pollfd p = { .fd = out_r[1], .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 300) != 1)
			break;
		r = read(out_r[1], got + n, sizeof(got) - n);
		cr_assert_gt(r, 0);
		n += (size_t)r;
	}
	cr_assert_eq(n % PAGE, 0, "whole chains only");
	cr_assert_eq(memcmp(src, got, n), 0);
	cr_assert_eq(vtd_used_idx(&old_tx), 0, "old used ring written after reset");
	cr_assert_eq(vtd_used_idx(&q[txq(1)]), 0, "stale chains pushed to the new ring");
	/* Everything works, and the input stream lost nothing. */
	handshake();
	tx_wait(1, tx_start(1, (const uint8_t *)"after", 5, 1, false, true));
	read_exact(out_r[1], got, 5);
	cr_assert_eq(memcmp(got, "after", 5), 0);
	open_port(1);
	for (int i = 0; i < 2; i++)
		post_rx(1, PAGE);
	rx_collect(1, rx + PAGE, sizeof(rx) - PAGE);
	cr_assert_eq(memcmp(in, rx, sizeof(in)), 0);
}

static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static int cb_n;
static struct { uint32_t port; bool open; } cb_log[16];

static void open_cb(void *opaque, uint32_t port, bool open)
{
	cr_assert_eq(opaque, &cb_n);
	pthread_mutex_lock(&cb_lock);
	if (cb_n < 16) {
		cb_log[cb_n].port = port;
		cb_log[cb_n].open = open;
	}
	cb_n++;
	pthread_mutex_unlock(&cb_lock);
}

static int cb_count(int want)
{
	int n;

	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&cb_lock);
		n = cb_n;
		pthread_mutex_unlock(&cb_lock);
		if (n >= want)
			break;
		usleep(1000);
	}
	return n;
}

static void send_hdr(uint32_t id, uint16_t event, uint16_t value, uint32_t len)
{
	struct virtio_console_control c = { id, event, value };
	struct vtd_buf b = { vtd_alloc(&m, len > 8 ? len : 8, 8), len, false };

	memcpy(vtd_ptr(&m, b.gpa), &c, sizeof(c));
	send_chain(CTX, &b, 1, false);
}

Test(virtio_console, hostile_control_messages_are_ignored)
{
	struct virtio_console_control ok = { 1, VIRTIO_CONSOLE_PORT_OPEN, 1 };
	uint64_t split = guest_copy(&ok, sizeof(ok));
	struct vtd_buf three[3] = {
		{ split, 3, false }, { split + 3, 1, false }, { split + 4, 4, false },
	};
	struct vtd_buf wr = { vtd_alloc(&m, 16, 8), 16, true };
	uint16_t slot;

	cb_n = 0;
	virtio_console_set_open_cb(con, open_cb, &cb_n);
	handshake();
	send_hdr(1, VIRTIO_CONSOLE_PORT_OPEN, 1, 4);              /* short */
	send_hdr(1, VIRTIO_CONSOLE_PORT_OPEN, 1, 0);              /* empty */
	send_chain(CTX, &wr, 1, false);                           /* writable only */
	send_hdr(0, 99, 1, 8);                                    /* unknown event */
	send_hdr(0, VIRTIO_CONSOLE_PORT_ADD, 1, 8);               /* device-only events */
	send_hdr(0, VIRTIO_CONSOLE_CONSOLE_PORT, 1, 8);
	send_hdr(0, VIRTIO_CONSOLE_PORT_NAME, 1, 8);
	send_hdr(3, VIRTIO_CONSOLE_PORT_OPEN, 1, 8);              /* id == nr_ports */
	send_hdr(1000, VIRTIO_CONSOLE_PORT_READY, 1, 8);
	send_hdr(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_PORT_OPEN, 1, 8);
	send_hdr(1, VIRTIO_CONSOLE_PORT_OPEN, 2, 8);              /* bad value */
	send_hdr(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 7, 8);
	send_hdr(1000, VIRTIO_CONSOLE_PORT_OPEN, 1, 1 << 20);     /* huge, bad id */
	expect_no_ctrl(200);
	cr_assert_eq(cb_count(0), 0, "a hostile message opened a port");
	/* The same bytes split over three descriptors of an indirect chain are fine. */
	send_chain(CTX, three, 3, true);
	cr_assert_eq(cb_count(1), 1);
	cr_assert(cb_log[0].port == 1 && cb_log[0].open);
	open_port(1);   /* no change: no call */
	/* A huge chain with a good header counts as its header. */
	send_hdr(1, VIRTIO_CONSOLE_PORT_OPEN, 0, 1 << 20);
	cr_assert_eq(cb_count(2), 2);
	cr_assert(cb_log[1].port == 1 && !cb_log[1].open);
	open_port(1);
	cr_assert_eq(cb_count(3), 3);
	send_ctrl(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (uint32_t i = 0; i < 3; i++)
		expect_ctrl(i, VIRTIO_CONSOLE_PORT_ADD, 1);
	/* A malformed chain (buffer outside RAM) breaks the control queue only. */
	slot = q[CTX].next_desc++ % q[CTX].size;
	vtd_set_desc(&q[CTX], slot, 0x1000, 8, 0, 0);
	vtd_publish(&q[CTX], slot);
	notify(CTX);
	for (int i = 0; i < 2000 && !(vtd_read32(t, VIRTIO_MMIO_STATUS) &
				      VIRTIO_STATUS_DEVICE_NEEDS_RESET); i++)
		usleep(1000);
	cr_assert(vtd_read32(t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	tx_wait(1, tx_start(1, (const uint8_t *)"alive", 5, 1, false, true));
	vtd_write32(t, VIRTIO_MMIO_STATUS, 0);
	cr_assert_eq(cb_count(4), 4, "the reset closed port 1");
	cr_assert(cb_log[3].port == 1 && !cb_log[3].open);
	bring_up(16);
	handshake();
	virtio_console_set_open_cb(con, NULL, NULL);
}

/* With no control rx buffers, repeated requests and resizes cannot grow the queue. */
Test(virtio_console, pending_messages_bounded_and_merged, .init = mem_only, .fini = teardown)
{
	struct cmsg c;
	uint16_t v[2];

	cfg[0].console = true;
	port_pipes(0, true, true);
	port_pipes(1, false, true);
	port_pipes(2, false, false);
	start_with(3, 0);
	for (int i = 0; i < 50; i++)
		send_ctrl(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	for (int i = 0; i < 20; i++)
		send_ctrl(0, VIRTIO_CONSOLE_PORT_READY, 1);
	for (uint16_t i = 1; i <= 100; i++)
		resize(0, i, (uint16_t)(i + 1000));
	post_ctrl_rx(32);
	for (uint32_t i = 0; i < 3; i++)
		expect_ctrl(i, VIRTIO_CONSOLE_PORT_ADD, 1);
	expect_ctrl(0, VIRTIO_CONSOLE_CONSOLE_PORT, 1);
	expect_ctrl(0, VIRTIO_CONSOLE_PORT_OPEN, 1);
	c = expect_ctrl(0, VIRTIO_CONSOLE_RESIZE, 0);
	memcpy(v, c.raw + 8, 4);
	cr_assert(v[0] == 1100 && v[1] == 100, "the latest size, once");
	expect_no_ctrl(200);
}

/* Messages still owed at a reset are not for the next driver. */
Test(virtio_console, reset_drops_owed_messages, .init = mem_only, .fini = teardown)
{
	port_pipes(0, false, true);
	start_with(1, 0);
	send_ctrl(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	send_ctrl(0, VIRTIO_CONSOLE_PORT_READY, 1);
	vtd_write32(t, VIRTIO_MMIO_STATUS, 0);
	bring_up(16);
	expect_no_ctrl(200);
	handshake();
}

Test(virtio_console, output_errors_drop_data)
{
	uint16_t h;

	handshake();
	drop_fd(out_r[1]);   /* reader gone: EPIPE (and SIGPIPE, which must not kill us) */
	tx_wait(1, tx_start(1, (const uint8_t *)"lost", 4, 1, false, true));
	h = tx_start(1, (const uint8_t *)"lost too", 8, 2, false, false);
	virtio_console_flush(con);   /* on this thread */
	cr_assert_eq(vtd_used_idx(&q[txq(1)]), 2);
	(void)h;
	/* Port 2 has no out fd: discarded. */
	tx_wait(2, tx_start(2, (const uint8_t *)"void", 4, 1, false, true));
	send_ctrl(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
	expect_ctrl(0, VIRTIO_CONSOLE_PORT_ADD, 1);
}

Test(virtio_console, parse_ctrl_checks)
{
	struct virtio_console_control in, out;
	uint8_t big[64] = { 0 };

	cr_assert_eq(virtio_console_parse_ctrl(NULL, 8, 2, &out), -EINVAL);
	in = (struct virtio_console_control){ 1, VIRTIO_CONSOLE_PORT_OPEN, 1 };
	cr_assert_eq(virtio_console_parse_ctrl(&in, 7, 2, &out), -EINVAL);
	cr_assert_eq(virtio_console_parse_ctrl(&in, 8, 2, &out), 0);
	cr_assert(out.id == 1 && out.event == VIRTIO_CONSOLE_PORT_OPEN && out.value == 1);
	cr_assert_eq(virtio_console_parse_ctrl(&in, 8, 1, &out), -ERANGE);
	in.value = 2;
	cr_assert_eq(virtio_console_parse_ctrl(&in, 8, 2, &out), -EINVAL);
	in = (struct virtio_console_control){ VIRTIO_CONSOLE_BAD_ID,
					      VIRTIO_CONSOLE_DEVICE_READY, 1 };
	memcpy(big, &in, sizeof(in));
	cr_assert_eq(virtio_console_parse_ctrl(big, sizeof(big), 2, &out), 0, "tail ignored");
	for (uint16_t e = 0; e < 20; e++) {
		bool known = e == VIRTIO_CONSOLE_DEVICE_READY || e == VIRTIO_CONSOLE_PORT_READY ||
			     e == VIRTIO_CONSOLE_PORT_OPEN;

		in = (struct virtio_console_control){ 0, e, 1 };
		cr_assert_eq(virtio_console_parse_ctrl(&in, 8, 2, &out) == 0, known, "event %u", e);
	}
}

Test(virtio_console, create_rejects_bad_arguments, .init = mem_only, .fini = teardown)
{
	struct virtio_console_port_cfg p[VIRTIO_CONSOLE_MAX_PORTS + 1];
	char err[128], name[VIRTIO_CONSOLE_NAME_MAX + 2];
	int fds[2];

	for (int i = 0; i <= VIRTIO_CONSOLE_MAX_PORTS; i++)
		p[i] = (struct virtio_console_port_cfg){ .in_fd = -1, .out_fd = -1 };
	cr_assert_null(virtio_console_create(p, 0, err, sizeof(err)));
	cr_assert_null(virtio_console_create(p, VIRTIO_CONSOLE_MAX_PORTS + 1, err, sizeof(err)));
	con = virtio_console_create(p, VIRTIO_CONSOLE_MAX_PORTS, err, sizeof(err));
	cr_assert_not_null(con, "31 ports use all 64 queues: %s", err);
	virtio_console_destroy(con);
	con = NULL;
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	p[0].name = name;
	cr_assert_null(virtio_console_create(p, 1, err, sizeof(err)), "128-byte name");
	p[0].name = "";
	cr_assert_null(virtio_console_create(p, 1, err, sizeof(err)), "empty name");
	p[0].name = NULL;
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	own(fds[0]);
	own(fds[1]);
	p[0].in_fd = fds[1];
	cr_assert_null(virtio_console_create(p, 1, err, sizeof(err)), "write-only in_fd");
	p[0].in_fd = fds[0];
	p[0].out_fd = fds[0];
	cr_assert_null(virtio_console_create(p, 1, err, sizeof(err)), "read-only out_fd");
	p[0].out_fd = 1000;
	cr_assert_null(virtio_console_create(p, 1, err, sizeof(err)), "closed out_fd");
	cr_assert(strstr(err, "port 0"), "%s", err);
	virtio_console_destroy(NULL);
}

/* vCPU-side resets racing the device thread, 30 rounds. */
Test(virtio_console, reset_storm)
{
	uint8_t sink[4096];

	for (int round = 0; round < 30; round++) {
		if (round)
			bring_up(16);
		send_ctrl(VIRTIO_CONSOLE_BAD_ID, VIRTIO_CONSOLE_DEVICE_READY, 1);
		open_port(1);
		post_rx(1, 64);
		for (int i = 0; i < 4; i++)
			tx_start(1, (const uint8_t *)"storm", 5, 1, i & 1, true);
		cr_assert_eq(write(in_w[1], "x", 1), 1);
		if (round & 1)
			resize(0, 24, 80);
		vtd_write32(t, VIRTIO_MMIO_STATUS, 0);
		cr_assert_eq(vtd_read32(t, VIRTIO_MMIO_STATUS), 0);
		while (fionread(out_r[1]) > 0)
			cr_assert_gt(read(out_r[1], sink, sizeof(sink)), 0);
	}
	bring_up(16);
	handshake();
	tx_wait(1, tx_start(1, (const uint8_t *)"calm", 4, 1, false, true));
	read_exact(out_r[1], sink, 4);
	cr_assert_eq(memcmp(sink, "calm", 4), 0);
}

Test(virtio_console, destroy_while_running)
{
	handshake();
	open_port(1);
	post_rx(1, PAGE);
	tx_start(1, (const uint8_t *)"bye", 3, 1, false, true);
	cr_assert_eq(write(in_w[1], "in flight", 9), 9);
	/* teardown destroys transport and device with the thread busy */
}

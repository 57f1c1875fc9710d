/*
 * virtio-console device (virtio id 3) with VIRTIO_CONSOLE_F_MULTIPORT: up to
 * VIRTIO_CONSOLE_MAX_PORTS ports, each a byte stream between a guest character device
 * (/dev/hvcN for console ports, /dev/vportNpM for the others) and a pair of host fds.
 *
 * Queues (virtio 1.2, 5.3.2): port 0 rx = 0, port 0 tx = 1, control rx (device ->
 * driver) = 2, control tx (driver -> device) = 3, port N rx = 2 + 2N, tx = 3 + 2N.
 * Features offered: MULTIPORT and SIZE (Linux only applies a RESIZE to its tty when SIZE
 * is negotiated); EMERG_WRITE is not. Config space: {le16 cols; le16 rows; le32
 * max_nr_ports; le32 emerg_wr}; cols/rows mirror the last resize of the first console
 * port, emerg_wr reads 0 and writes to it are ignored.
 *
 * Control protocol, host side (as Linux's drivers/char/virtio_console.c expects it):
 *	guest DEVICE_READY(1)   -> PORT_ADD(id) for every port
 *	guest PORT_READY(id, 1) -> CONSOLE_PORT(id, 1) if console, then RESIZE(id) if a size
 *	                           was set, PORT_NAME(id) if named, PORT_OPEN(id, 1) if the
 *	                           port has a host side (an in or out fd) still connected
 *	guest PORT_OPEN(id, v)  -> the guest opened/closed the port (observer callback)
 *	in fd EOF               -> PORT_OPEN(id, 0) once every byte read before it is in the
 *	                           guest's rx used ring, so the guest's read() returns 0
 * Messages to the guest wait in a bounded queue (duplicates merged) until it posts
 * control rx buffers. Everything the guest writes is untrusted; control messages are
 * checked in one place, virtio_console_parse_ctrl().
 *
 * Host -> guest data is read only while the guest has the port open and has posted an
 * rx buffer (backpressure); guest -> host data is written with writev, blocking, in ring
 * order. One device thread serves all queues and fds.
 *
 * Glue (VMM side):
 *	struct virtio_console_port_cfg p = { .console = true, .in_fd = 0, .out_fd = 1 };
 *	c = virtio_console_create(&p, 1, err, sizeof(err));
 *	t = virtio_mmio_create(&host, &virtio_console_dev_ops, c);
 *	...	(irqfd, vm_register_mmio: see devices/virtio_mmio.h)
 *	at exit: virtio_console_flush(c); virtio_mmio_destroy(t); virtio_console_destroy(c);
 */
#ifndef NOOK_DEVICES_VIRTIO_CONSOLE_H
#define NOOK_DEVICES_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/virtio.h"

/* Two queues per port plus the control pair must fit VIRTIO_MMIO_MAX_QUEUES (64). */
#define VIRTIO_CONSOLE_MAX_PORTS 31
#define VIRTIO_CONSOLE_NAME_MAX  127   /* bytes of a port name, without the NUL */

/* Feature bits (virtio 1.2, 5.3.3). */
#define VIRTIO_CONSOLE_F_SIZE        0
#define VIRTIO_CONSOLE_F_MULTIPORT   1
#define VIRTIO_CONSOLE_F_EMERG_WRITE 2

/* Control events (5.3.6.2). */
#define VIRTIO_CONSOLE_DEVICE_READY 0
#define VIRTIO_CONSOLE_PORT_ADD     1
#define VIRTIO_CONSOLE_PORT_REMOVE  2
#define VIRTIO_CONSOLE_PORT_READY   3
#define VIRTIO_CONSOLE_CONSOLE_PORT 4
#define VIRTIO_CONSOLE_RESIZE       5
#define VIRTIO_CONSOLE_PORT_OPEN    6
#define VIRTIO_CONSOLE_PORT_NAME    7
#define VIRTIO_CONSOLE_BAD_ID       0xffffffffu   /* id of DEVICE_READY */

/* The 8-byte control header, little-endian on the wire (x86: as is). */
struct virtio_console_control {
	uint32_t id;
	uint16_t event;
	uint16_t value;
};

struct virtio_console_port_cfg {
	const char *name;   /* sent as VIRTIO_CONSOLE_PORT_NAME (1..NAME_MAX bytes); NULL: none */
	bool console;       /* announced with VIRTIO_CONSOLE_CONSOLE_PORT: the guest makes
			       it /dev/hvcN (the first one hvc0) */
	int in_fd;          /* host -> guest data source, or -1. Read (poll, then read) only
			       while the guest has the port open and an rx buffer posted, so
			       EOF too is seen then (Linux keeps its rx queue full). EOF
			       (read() == 0, or a read error) is final for the device's life:
			       once the data read before it is in the guest's rx used ring the
			       guest gets PORT_OPEN(port, 0), so its read() returns 0. Pipes,
			       ttys, regular files, /dev/null. Never made non-blocking. */
	int out_fd;         /* guest -> host sink, or -1 (data discarded). Writes block and
			       complete (short writes, EINTR, EAGAIN handled); EPIPE and other
			       errors drop the data (one warning), never SIGPIPE nook. */
};

struct virtio_console;

/* The virtio_dev_ops the transport drives; dev is the struct virtio_console. */
extern const struct virtio_dev_ops virtio_console_dev_ops;

/*
 * Port i of ports[] is multiport id i; port 0 is conventionally the console port (old
 * drivers without MULTIPORT only know port 0). 1 <= nr_ports <= VIRTIO_CONSOLE_MAX_PORTS.
 * The fds stay the caller's: open until virtio_console_destroy(), never closed here.
 * Starts the device thread. NULL with a one-line message in err on failure.
 */
struct virtio_console *virtio_console_create(const struct virtio_console_port_cfg *ports,
					     int nr_ports, char *err, size_t errlen);

/* Stops the device thread (waiting for a write in progress) and frees the device.
 * Destroy the transport first. NULL is a no-op. */
void virtio_console_destroy(struct virtio_console *c);

/*
 * Terminal size of console port `port`: sent now as VIRTIO_CONSOLE_RESIZE if the guest
 * has the port ready, else after its CONSOLE_PORT message. Ignored for other ports.
 * Payload order: {le16 cols; le16 rows}, which is what our guest kernel's
 * handle_control_message() reads (build/guest/src, 6.1.192) and the spec's order.
 * Careful: Linux read {rows; cols} for ~15 years; commit 5326ab737a47 ("virtio_console:
 * fix order of fields cols and rows", 2025) swapped it, was reverted upstream in
 * 6.17-rc for compatibility, yet is in this stable kernel. An older guest sees the two
 * values swapped (a wrong tty size, nothing worse).
 */
void virtio_console_resize(struct virtio_console *c, uint32_t port, uint16_t rows,
			   uint16_t cols);

/*
 * Synchronously process every driver -> device chain still in the rings: the control tx
 * queue (answering what needs answering) and each port's tx queue, whose data is written
 * to its out fd before this returns. Call after the vCPUs stopped (or at any point) so
 * all guest output reaches the host before nook exits. Safe against the device thread.
 */
void virtio_console_flush(struct virtio_console *c);

/*
 * Optional observer of the guest side: called with open = true/false when the guest
 * opens/closes a port (PORT_OPEN from the guest; a device reset closes every open port).
 * Runs on the device thread (or in virtio_console_flush's caller), with no device lock
 * held, so it may call virtio_console_resize(). cb NULL removes it.
 */
void virtio_console_set_open_cb(struct virtio_console *c,
				void (*cb)(void *opaque, uint32_t port, bool open), void *opaque);

/*
 * The single check of a control message the driver sent (buf: the bytes of one control
 * tx chain, len of them). Accepts DEVICE_READY (any id: Linux sends BAD_ID), PORT_READY
 * and PORT_OPEN with id < nr_ports, each with value 0 or 1; bytes after the 8-byte
 * header are ignored. Returns 0 with *out filled, or -EINVAL (short, bad value),
 * -ERANGE (no such port) or -EOPNOTSUPP (unknown event, or one only a device sends).
 */
int virtio_console_parse_ctrl(const void *buf, size_t len, uint32_t nr_ports,
			      struct virtio_console_control *out);

#endif

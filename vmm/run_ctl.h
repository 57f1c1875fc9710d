/*
 * Control frames of vmm/run_proto.h (RUN_CTL_*), host side: encoding, reassembly from
 * a byte stream, and the one check of every frame read from the guest, from a client
 * of the VMM's --control socket, or (in nook-oci) from the VMM. Plain C with no
 * system calls, so nook, nook-oci, the unit tests and the fuzzer share it.
 */
#ifndef NOOK_VMM_RUN_CTL_H
#define NOOK_VMM_RUN_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/run_proto.h"

/* Who wrote the bytes: each may send only its own frame types. */
enum run_ctl_src {
	RUN_CTL_FROM_GUEST,	/* the init, over the control port: hostile */
	RUN_CTL_FROM_CLIENT,	/* nook-oci, over the --control socket */
	RUN_CTL_FROM_VMM,	/* the VMM's answers, as nook-oci reads them */
};

struct run_ctl_frame {
	uint8_t type, arg;
	uint16_t len;
	uint32_t id;
	const uint8_t *payload;	/* len bytes (points into the reassembly buffer) */
};

/* Reassembly of one stream: at most one whole frame is buffered. */
struct run_ctl_rx {
	uint8_t buf[RUN_CTL_HDR_SIZE + RUN_CTL_MAX_PAYLOAD];
	size_t len;
	bool broken;		/* a bad frame was seen: the stream is out of step */
};

/*
 * Checks the 8-byte header at hdr as src may send it and decodes it into *f (payload
 * NULL). 0, or -EPROTO (a type src may not send), -EMSGSIZE (len too large for it),
 * -EINVAL (bad id or arg for the type).
 */
int run_ctl_check(const uint8_t *hdr, enum run_ctl_src src, struct run_ctl_frame *f);

/*
 * Appends n bytes and calls cb for every whole, checked frame (in order). A bad frame
 * stops the stream for good (rx->broken; later bytes are dropped): returns its -errno
 * then, else 0. cb returning non-zero stops the feed too and that value is returned.
 */
int run_ctl_feed(struct run_ctl_rx *rx, const void *data, size_t n, enum run_ctl_src src,
		 int (*cb)(void *opaque, const struct run_ctl_frame *f), void *opaque);

/* The little-endian u32 at p (a RUN_CTL_CREDIT payload). */
uint32_t run_ctl_u32(const uint8_t *p);

/* Writes header + payload into out (RUN_CTL_HDR_SIZE + len bytes); len must be at most
 * RUN_CTL_MAX_PAYLOAD. Returns the frame's size. */
size_t run_ctl_encode(uint8_t *out, uint8_t type, uint8_t arg, uint32_t id,
		      const void *payload, size_t len);

#endif

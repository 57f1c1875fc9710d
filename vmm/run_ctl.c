#include "vmm/run_ctl.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

/* The rules per source: type, payload size, id and arg. */
static int check_guest(const struct run_ctl_frame *f)
{
	switch (f->type) {
	case RUN_CTL_HELD:
		return f->len || f->id ? (f->len ? -EMSGSIZE : -EINVAL) : 0;
	case RUN_CTL_STARTED:
		return f->len ? -EMSGSIZE : 0;
	case RUN_CTL_OUTPUT:
		if (f->len > RUN_CTL_OUT_MAX)
			return -EMSGSIZE;
		return !f->id || (f->arg != 1 && f->arg != 2) ? -EINVAL : 0;
	case RUN_CTL_EXIT:
		return f->len ? -EMSGSIZE : !f->id ? -EINVAL : 0;
	case RUN_CTL_CREDIT:
		return f->len != 4 ? -EMSGSIZE : !f->id ? -EINVAL : 0;
	}
	return -EPROTO;
}

static int check_client(const struct run_ctl_frame *f)
{
	switch (f->type) {
	case RUN_CTL_START:
	case RUN_CTL_WAIT:
		return f->len ? -EMSGSIZE : 0;
	case RUN_CTL_SIGNAL:
		return f->len ? -EMSGSIZE : f->arg >= NSIG ? -EINVAL : 0;
	case RUN_CTL_EXEC:
		return !f->len || !f->id ? -EINVAL : 0;
	case RUN_CTL_STDIN:
		return f->len > RUN_CTL_OUT_MAX ? -EMSGSIZE : !f->id ? -EINVAL : 0;
	case RUN_CTL_RESIZE:
		return f->len != 4 ? -EMSGSIZE : !f->id ? -EINVAL : 0;
	}
	return -EPROTO;
}

static int check_vmm(const struct run_ctl_frame *f)
{
	switch (f->type) {
	case RUN_CTL_ERROR:
		return 0;
	case RUN_CTL_HELD:
	case RUN_CTL_STARTED:
	case RUN_CTL_EXIT:
		return f->len ? -EMSGSIZE : 0;
	case RUN_CTL_OUTPUT:
		return f->len > RUN_CTL_OUT_MAX ? -EMSGSIZE :
		       f->arg != 1 && f->arg != 2 ? -EINVAL : 0;
	case RUN_CTL_CREDIT:
		return f->len != 4 ? -EMSGSIZE : 0;
	}
	return -EPROTO;
}

int run_ctl_check(const uint8_t *hdr, enum run_ctl_src src, struct run_ctl_frame *f)
{
	f->type = hdr[0];
	f->arg = hdr[1];
	f->len = (uint16_t)(hdr[2] | hdr[3] << 8);
	f->id = (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 |
		(uint32_t)hdr[7] << 24;
	f->payload = NULL;
	if (f->id > RUN_CTL_MAX_ID)
		return -EINVAL;
	switch (src) {
	case RUN_CTL_FROM_GUEST:
		return check_guest(f);
	case RUN_CTL_FROM_CLIENT:
		return check_client(f);
	case RUN_CTL_FROM_VMM:
		return check_vmm(f);
	}
	return -EPROTO;
}

int run_ctl_feed(struct run_ctl_rx *rx, const void *data, size_t n, enum run_ctl_src src,
		 int (*cb)(void *opaque, const struct run_ctl_frame *f), void *opaque)
{
	const uint8_t *in = data;

	while (n && !rx->broken) {
		struct run_ctl_frame f;
		size_t want = RUN_CTL_HDR_SIZE, take;
		int r;

		if (rx->len >= RUN_CTL_HDR_SIZE)
			want += (size_t)(rx->buf[2] | rx->buf[3] << 8);
		take = want - rx->len < n ? want - rx->len : n;
		memcpy(rx->buf + rx->len, in, take);
		rx->len += take;
		in += take;
		n -= take;
		if (rx->len < RUN_CTL_HDR_SIZE)
			break;
		/* The header is checked as soon as it is whole: a bad length is never
		 * waited for. */
		r = run_ctl_check(rx->buf, src, &f);
		if (r) {
			rx->broken = true;
			return r;
		}
		if (rx->len < RUN_CTL_HDR_SIZE + f.len)
			continue;
		f.payload = rx->buf + RUN_CTL_HDR_SIZE;
		rx->len = 0;
		r = cb(opaque, &f);
		if (r)
			return r;
	}
	return 0;
}

uint32_t run_ctl_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

size_t run_ctl_encode(uint8_t *out, uint8_t type, uint8_t arg, uint32_t id,
		      const void *payload, size_t len)
{
	out[0] = type;
	out[1] = arg;
	out[2] = (uint8_t)len;
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)id;
	out[5] = (uint8_t)(id >> 8);
	out[6] = (uint8_t)(id >> 16);
	out[7] = (uint8_t)(id >> 24);
	if (len)
		memcpy(out + RUN_CTL_HDR_SIZE, payload, len);
	return RUN_CTL_HDR_SIZE + len;
}

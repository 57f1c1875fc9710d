#include "devices/run_status.h"

#include <string.h>

#include "vmm/clock.h"
#include "vmm/run_proto.h"

void run_status_init(struct run_status *s)
{
	atomic_init(&s->code, -1);
	atomic_init(&s->init_ns, 0);
	atomic_init(&s->exec_ns, 0);
}

bool run_status_write_value(struct run_status *s, uint64_t off, uint32_t len, uint32_t v)
{
	uint64_t zero = 0;
	int none = -1;

	/* One aligned 32-bit store at offset 0 with the magic: anything else is noise. */
	if (off != 0 || len != 4 || (v & 0xffff0000u) != RUN_STATUS_MAGIC)
		return false;
	switch (v & RUN_STATUS_KIND_MASK) {
	case RUN_STATUS_EXIT:
		return atomic_compare_exchange_strong(&s->code, &none,
						      (int)(v & RUN_STATUS_CODE_MASK));
	case RUN_STATUS_INIT:
		atomic_compare_exchange_strong(&s->init_ns, &zero, clock_now_ns());
		return false;
	case RUN_STATUS_EXEC:
		atomic_compare_exchange_strong(&s->exec_ns, &zero, clock_now_ns());
		return false;
	default:
		return false;
	}
}

static void run_status_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	memset(data, 0, len);
}

static void run_status_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	uint32_t v = 0;

	if (len == 4)
		memcpy(&v, data, 4);
	run_status_write_value(opaque, off, len, v);
}

const struct bus_ops run_status_ops = { .read = run_status_read, .write = run_status_write };

#include "devices/pvpanic.h"

#include <string.h>

static void pvpanic_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	memset(data, 0, len);
	*(uint8_t *)data = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;
}

static void pvpanic_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct pvpanic *p = opaque;
	uint8_t v = *(const uint8_t *)data & (PVPANIC_PANICKED | PVPANIC_CRASH_LOADED);

	if (v && p->event)
		p->event(p->opaque, v);
}

const struct bus_ops pvpanic_ops = { .read = pvpanic_read, .write = pvpanic_write };

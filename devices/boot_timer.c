#include "devices/boot_timer.h"

#include <string.h>

#include "vmm/clock.h"

uint64_t boot_timer_now_ns(void)
{
	return clock_now_ns();
}

static void boot_timer_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	memset(data, 0, len);
}

static void boot_timer_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct boot_timer *t = opaque;
	uint64_t zero = 0, now;

	if (off != 0 || *(const uint8_t *)data != BOOT_TIMER_MAGIC)
		return;
	now = boot_timer_now_ns() - t->start_ns;
	if (now == 0)
		now = 1;
	atomic_compare_exchange_strong(&t->elapsed_ns, &zero, now);
}

const struct bus_ops boot_timer_ops = { .read = boot_timer_read, .write = boot_timer_write };

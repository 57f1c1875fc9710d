/* i8042, pvpanic, boot timer, empty legacy ports, console escape, event loop. */
#include <criterion/criterion.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/x86_64/layout.h"
#include "devices/boot_timer.h"
#include "devices/i8042.h"
#include "devices/pvpanic.h"
#include "vmm/console.h"
#include "vmm/event_loop.h"
#include "vmm/legacy_ports.h"

static int resets;

static void on_reset(void *opaque)
{
	resets++;
}

static uint8_t io_rd(const struct bus_ops *ops, void *o, unsigned off)
{
	uint8_t v;

	ops->read(o, off, &v, 1);
	return v;
}

static void io_wr(const struct bus_ops *ops, void *o, unsigned off, uint8_t v)
{
	ops->write(o, off, &v, 1);
}

Test(i8042, reset_command)
{
	struct i8042 k;

	resets = 0;
	i8042_init(&k, on_reset, NULL);
	cr_assert_eq(io_rd(&i8042_cmd_ops, &k, 0) & 0x02, 0, "input buffer empty (kb_wait)");
	io_wr(&i8042_cmd_ops, &k, 0, 0xfe);
	cr_assert_eq(resets, 1);
	i8042_destroy(&k);
}

Test(i8042, ctr_and_self_test)
{
	struct i8042 k;

	i8042_init(&k, on_reset, NULL);
	cr_assert_eq(io_rd(&i8042_cmd_ops, &k, 0) & 1, 0);
	io_wr(&i8042_cmd_ops, &k, 0, I8042_CMD_READ_CTR);
	cr_assert_eq(io_rd(&i8042_cmd_ops, &k, 0) & 1, 1, "output buffer full");
	cr_assert_eq(io_rd(&i8042_data_ops, &k, 0), k.ctr);
	io_wr(&i8042_cmd_ops, &k, 0, I8042_CMD_WRITE_CTR);
	io_wr(&i8042_data_ops, &k, 0, 0x30);
	io_wr(&i8042_cmd_ops, &k, 0, I8042_CMD_READ_CTR);
	cr_assert_eq(io_rd(&i8042_data_ops, &k, 0), 0x30);
	io_wr(&i8042_cmd_ops, &k, 0, I8042_CMD_SELF_TEST);
	cr_assert_eq(io_rd(&i8042_data_ops, &k, 0), 0x55);
	cr_assert_eq(io_rd(&i8042_cmd_ops, &k, 0) & 1, 0);
	i8042_destroy(&k);
}

static uint8_t panic_events;

static void on_panic(void *opaque, uint8_t ev)
{
	panic_events |= ev;
}

Test(pvpanic, read_and_write)
{
	struct pvpanic p = { .event = on_panic };

	panic_events = 0;
	cr_assert_eq(io_rd(&pvpanic_ops, &p, 0), 0x3, "PANICKED|CRASH_LOADED supported");
	io_wr(&pvpanic_ops, &p, 0, 0);
	cr_assert_eq(panic_events, 0);
	io_wr(&pvpanic_ops, &p, 0, PVPANIC_PANICKED);
	cr_assert_eq(panic_events, PVPANIC_PANICKED);
}

Test(boot_timer, records_magic_once)
{
	struct boot_timer t = { .start_ns = boot_timer_now_ns() };
	uint64_t first;

	io_wr(&boot_timer_ops, &t, 0, 7);
	cr_assert_eq(atomic_load(&t.elapsed_ns), 0, "other values ignored");
	io_wr(&boot_timer_ops, &t, 1, BOOT_TIMER_MAGIC);
	cr_assert_eq(atomic_load(&t.elapsed_ns), 0, "only offset 0");
	io_wr(&boot_timer_ops, &t, 0, BOOT_TIMER_MAGIC);
	first = atomic_load(&t.elapsed_ns);
	cr_assert_gt(first, 0);
	io_wr(&boot_timer_ops, &t, 0, BOOT_TIMER_MAGIC);
	cr_assert_eq(atomic_load(&t.elapsed_ns), first, "first write wins");
}

Test(legacy_ports, empty_bus_and_cmos)
{
	struct bus pio;
	struct cmos cmos = { 0 };
	uint8_t v = 0, idx;

	memset(&pio, 0, sizeof(pio));
	cr_assert_eq(legacy_ports_register(&pio, &cmos), 0);
	cr_assert(bus_access(&pio, 0x80, &v, 1, false));
	cr_assert_eq(v, 0xff, "empty ports read all-ones");
	cr_assert(bus_access(&pio, 0xcfc, &v, 1, true), "PCI writes dropped");
	cr_assert_not(bus_access(&pio, 0x1234, &v, 1, false), "unknown port is not claimed");
	cr_assert_not(bus_access(&pio, LAYOUT_COM1_PORT, &v, 1, false), "COM1 is a real device");
	idx = 0x0a;
	cr_assert(bus_access(&pio, LAYOUT_CMOS_PORT, &idx, 1, true));
	cr_assert(bus_access(&pio, LAYOUT_CMOS_PORT + 1, &v, 1, false));
	cr_assert_eq(v & 0x80, 0, "RTC update-in-progress clear");
}

Test(console, escape_sequence)
{
	struct console c = { .in_fd = -1, .out_fd = -1 };
	uint8_t out[16];
	bool quit;
	size_t n;

	n = console_filter(&c, (const uint8_t *)"ab\x01\x01" "c", 5, out, &quit);
	cr_assert_not(quit);
	cr_assert_eq(n, 4);
	cr_assert_eq(memcmp(out, "ab\x01" "c", 4), 0);
	n = console_filter(&c, (const uint8_t *)"z\x01", 2, out, &quit);
	cr_assert_eq(n, 1);
	cr_assert_not(quit);
	n = console_filter(&c, (const uint8_t *)"x", 1, out, &quit);
	cr_assert(quit, "Ctrl-A x split across reads");
	cr_assert_eq(n, 0);
}

static int evl_hits;

static void evl_cb_quit(int fd, uint32_t events, void *opaque)
{
	uint64_t v;

	cr_assert_eq(read(fd, &v, sizeof(v)), (ssize_t)sizeof(v));
	evl_hits++;
	evl_quit(opaque);
}

Test(event_loop, dispatches_and_quits)
{
	struct event_loop l;
	int fd = eventfd(0, EFD_CLOEXEC);
	uint64_t one = 1;

	cr_assert_eq(evl_init(&l), 0);
	cr_assert_eq(evl_add(&l, fd, evl_cb_quit, &l), 0);
	cr_assert_eq(write(fd, &one, sizeof(one)), (ssize_t)sizeof(one));
	cr_assert_eq(evl_run(&l), 0);
	cr_assert_eq(evl_hits, 1);
	evl_del(&l, fd);
	evl_close(&l);
	close(fd);
}

#include "vmm/legacy_ports.h"

#include <string.h>
#include <time.h>

#include "arch/x86_64/layout.h"

/* PIC, PIT, speaker port and ELCR are served by KVM's in-kernel irqchip/PIT. */
const struct legacy_port_range legacy_empty_ports[] = {
	{ 0x80, 1, "POST/io_delay" },
	{ 0xed, 1, "alternate io_delay" },
	{ 0x87, 1, "DMA page register" },
	{ 0x00, 0x10, "DMA controller 1" },
	{ 0xc0, 0x20, "DMA controller 2" },
	{ 0x92, 1, "system control port A" },
	{ 0x2f8, 8, "COM2" },
	{ 0x3e8, 8, "COM3" },
	{ 0x2e8, 8, "COM4" },
	{ 0x278, 3, "LPT2" },
	{ 0x378, 3, "LPT1" },
	{ 0x3b0, 0x30, "VGA / MDA / LPT0" },
	{ 0x3f0, 8, "floppy" },
	{ 0x1f0, 8, "IDE primary" },
	{ 0x170, 8, "IDE secondary" },
	{ 0xcf8, 8, "PCI config" },
	{ 0x510, 2, "fw_cfg" },
	{ 0xb2, 2, "APM/SMI" },
};
const int legacy_nr_empty_ports = sizeof(legacy_empty_ports) / sizeof(legacy_empty_ports[0]);

static void legacy_empty_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	memset(data, 0xff, len);
}

static void legacy_empty_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
}

const struct bus_ops legacy_empty_ops = { .read = legacy_empty_read, .write = legacy_empty_write };

static uint8_t cmos_bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t cmos_reg(uint8_t reg)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	switch (reg) {
	case 0x00: return cmos_bcd(tm.tm_sec);
	case 0x02: return cmos_bcd(tm.tm_min);
	case 0x04: return cmos_bcd(tm.tm_hour);
	case 0x06: return cmos_bcd(tm.tm_wday + 1);
	case 0x07: return cmos_bcd(tm.tm_mday);
	case 0x08: return cmos_bcd(tm.tm_mon + 1);
	case 0x09: return cmos_bcd(tm.tm_year % 100);
	case 0x32: return cmos_bcd(19 + tm.tm_year / 100);	/* century */
	case 0x0a: return 0x26;	/* divider on, UIP clear */
	case 0x0b: return 0x02;	/* 24-hour, BCD, no interrupts */
	case 0x0d: return 0x80;	/* RTC power valid */
	default: return 0;
	}
}

static void cmos_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct cmos *c = opaque;

	memset(data, 0, len);
	*(uint8_t *)data = off == 1 ? cmos_reg(c->index & 0x7f) : 0xff;
}

static void cmos_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct cmos *c = opaque;

	/* Index writes select a register (bit 7 is the NMI mask); data writes are dropped. */
	if (off == 0)
		c->index = *(const uint8_t *)data;
}

const struct bus_ops cmos_ops = { .read = cmos_read, .write = cmos_write };

int legacy_ports_register(struct bus *pio, struct cmos *cmos)
{
	int r;

	for (int i = 0; i < legacy_nr_empty_ports; i++) {
		const struct legacy_port_range *p = &legacy_empty_ports[i];

		r = bus_register(pio, p->base, p->len, &legacy_empty_ops, NULL, p->name);
		if (r)
			return r;
	}
	return bus_register(pio, LAYOUT_CMOS_PORT, 2, &cmos_ops, cmos, "CMOS/RTC");
}

/*
 * Legacy PC ports Linux touches on a firmware-less machine. The "empty bus" table lists
 * the ports a probe may read (all-ones: nothing there) or write (dropped); any port not
 * here and not claimed by a device ends nook with a message. A tiny read-only CMOS/RTC
 * reports the host's UTC time so the kernel's RTC reads never wait for an update flag.
 */
#ifndef NOOK_VMM_LEGACY_PORTS_H
#define NOOK_VMM_LEGACY_PORTS_H

#include <stdint.h>

#include "vmm/bus.h"

struct legacy_port_range {
	uint16_t base, len;
	const char *name;
};

extern const struct legacy_port_range legacy_empty_ports[];
extern const int legacy_nr_empty_ports;
extern const struct bus_ops legacy_empty_ops;

struct cmos {
	uint8_t index;
};
extern const struct bus_ops cmos_ops;	/* 2 ports: index, data */

/* Registers every empty range plus the CMOS on the port bus; 0 or -errno. */
int legacy_ports_register(struct bus *pio, struct cmos *cmos);

#endif

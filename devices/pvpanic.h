/*
 * pvpanic on an I/O port (0x505): the guest reads the supported events and writes
 * PANICKED when its kernel panics (or CRASH_LOADED before kexec'ing a crash kernel).
 */
#ifndef NOOK_DEVICES_PVPANIC_H
#define NOOK_DEVICES_PVPANIC_H

#include <stdint.h>

#include "vmm/bus.h"

#define PVPANIC_PANICKED	0x1
#define PVPANIC_CRASH_LOADED	0x2

struct pvpanic {
	void (*event)(void *opaque, uint8_t events);	/* called for every non-zero write */
	void *opaque;
};

extern const struct bus_ops pvpanic_ops;

#endif

/*
 * Address-space dispatch for port I/O and MMIO exits.
 *
 * Devices register a window [base, base+len) with read/write callbacks before any vCPU
 * runs; lookups after that take no lock. A device serialises its own state.
 */
#ifndef NOOK_VMM_BUS_H
#define NOOK_VMM_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define BUS_MAX_DEVS 64

struct bus_ops {
	/* offset is relative to the window base; len is 1, 2, 4 or 8. */
	void (*read)(void *opaque, uint64_t offset, void *data, uint32_t len);
	void (*write)(void *opaque, uint64_t offset, const void *data, uint32_t len);
};

struct bus_dev {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
	const char *name;
};

struct bus {
	struct bus_dev devs[BUS_MAX_DEVS];
	int nr;
};

/* Returns 0, or -EEXIST if the window overlaps another, -ENOSPC if the bus is full. */
int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, const char *name);

/* Finds the device covering [addr, addr+len); NULL if none. */
const struct bus_dev *bus_find(const struct bus *b, uint64_t addr, uint32_t len);

/* Performs the access; returns false when no device claims it (reads then see 0xff..). */
bool bus_access(const struct bus *b, uint64_t addr, void *data, uint32_t len, bool is_write);

#endif

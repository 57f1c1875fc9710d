/*
 * Boot timer: the guest's init writes the byte BOOT_TIMER_MAGIC to the boot-timer MMIO
 * page (arch/x86_64/layout.h); nook records the time since it started (first write wins).
 */
#ifndef NOOK_DEVICES_BOOT_TIMER_H
#define NOOK_DEVICES_BOOT_TIMER_H

#include <stdatomic.h>
#include <stdint.h>

#include "vmm/bus.h"

#define BOOT_TIMER_MAGIC 123

struct boot_timer {
	uint64_t start_ns;		/* CLOCK_MONOTONIC when nook started */
	_Atomic uint64_t elapsed_ns;	/* 0 until the guest wrote the magic byte */
};

extern const struct bus_ops boot_timer_ops;

uint64_t boot_timer_now_ns(void);

#endif

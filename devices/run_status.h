/*
 * Run-status register of `nook run -- CMD` (vmm/run_proto.h): the built-in guest init
 * writes one 32-bit value, RUN_STATUS_MAGIC | kind | code, to the register page through
 * /dev/mem. Kind EXIT records the command's exit status (the first one wins: a command
 * cannot report twice); kinds INIT and EXEC are timestamps for the benchmark. Any other
 * write (wrong magic, offset, width) is ignored: the register is guest-controlled.
 */
#ifndef NOOK_DEVICES_RUN_STATUS_H
#define NOOK_DEVICES_RUN_STATUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"

struct run_status {
	_Atomic int code;		/* -1 until reported, then 0..255 */
	_Atomic uint64_t init_ns;	/* CLOCK_MONOTONIC at RUN_STATUS_INIT, 0 if not seen */
	_Atomic uint64_t exec_ns;	/* CLOCK_MONOTONIC at RUN_STATUS_EXEC, 0 if not seen */
};

extern const struct bus_ops run_status_ops;

void run_status_init(struct run_status *s);

/* Decodes one guest write; true if it was a valid EXIT report (for tests). */
bool run_status_write_value(struct run_status *s, uint64_t off, uint32_t len, uint32_t v);

#endif

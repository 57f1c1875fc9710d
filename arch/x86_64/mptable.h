/*
 * Intel MultiProcessor Specification 1.4 table: how a firmware-less guest learns its CPUs,
 * the IOAPIC and the ISA interrupt routing (we have no ACPI).
 */
#ifndef NOOK_ARCH_X86_64_MPTABLE_H
#define NOOK_ARCH_X86_64_MPTABLE_H

#include <stdint.h>

#include "vmm/guest_mem.h"

/* APIC ids 0..N-1 for the CPUs, the IOAPIC takes id N; 0xff is broadcast. */
#define MPTABLE_MAX_CPUS 254

/* Writes the floating pointer at LAYOUT_MPTABLE and the configuration table after it.
 * Returns 0, -EINVAL for a bad CPU count, -ENOSPC / -EFAULT if it does not fit. */
int mptable_write(struct guest_mem *m, int nr_cpus);

/* Two's-complement checksum byte making the sum of [p, p+len) zero. */
uint8_t mptable_checksum(const void *p, uint32_t len);

#endif

/*
 * Guest kernel command line assembly:
 *
 *   [PVM_CMDLINE on software-virtualized hosts]  (always kept)
 *   CMDLINE_DEFAULT, or the --cmdline text which replaces it
 *   device parameters nook adds (virtio_mmio.device=..., pvpanic port)
 *   --append text (last, so it can override earlier settings)
 */
#ifndef NOOK_ARCH_X86_64_CMDLINE_H
#define NOOK_ARCH_X86_64_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

/* The generic part the guest kernel helper recommends (guest-kernel-config): serial
 * console, i8042 reboot, reboot at once on panic (after pvpanic told us), no PIT timer
 * check and no TSC watchdog (both slow and pointless in a microVM). */
#define CMDLINE_DEFAULT "console=ttyS0 reboot=k panic=-1 quiet no_timer_check tsc=reliable"

struct cmdline_parts {
	bool pvm;
	const char *replace;	/* --cmdline, or NULL for CMDLINE_DEFAULT */
	const char *devices;	/* nook's device parameters, may be NULL/empty */
	const char *append;	/* --append, may be NULL */
};

/* Joins the parts with single spaces into out. Returns 0, or -1 when the result does not
 * fit in max bytes (incl. NUL); max is the kernel's limit. */
int cmdline_build(char *out, size_t max, const struct cmdline_parts *p);

#endif

/*
 * Guest-physical memory map and fixed I/O resources of a nook x86_64 guest.
 *
 * This is the ONLY place that names a guest address, port or GSI; everything else uses
 * these macros. The low 1 MiB holds the boot structures nook writes before the first
 * instruction (the kernel copies what it needs early and may reuse the pages later).
 *
 *   0x0000_0500  GDT (5 entries)               0x0009_fc00  MP floating pointer + table
 *   0x0000_7000  zero page (boot_params)       0x0010_0000  high memory starts (e820)
 *   0x0000_8ff0  initial stack pointer         0x0100_0000  kernel load address (16 MiB)
 *   0x0000_9000  PML4, 0xa000 PDPT,            ...          initrd: top of low RAM
 *   0x0000_b000  4 PDs (identity map 4 GiB)    0xc000_0000  32-bit MMIO gap (no RAM)
 *   0x0002_0000  kernel command line          0x1_0000_0000 RAM above 3 GiB continues
 *                                               next 1 GiB above RAM: shm regions (no e820)
 */
#ifndef NOOK_ARCH_X86_64_LAYOUT_H
#define NOOK_ARCH_X86_64_LAYOUT_H

/* Global descriptor table used for the 64-bit entry (null, null, code 0x10, data 0x18, TSS 0x20). */
#define LAYOUT_GDT_ADDR		0x500ULL
/* Zero page: struct boot_params handed to the kernel in RSI. */
#define LAYOUT_ZERO_PAGE	0x7000ULL
/* Initial RSP/RBP (below the page tables; the kernel switches stacks at once). */
#define LAYOUT_BOOT_STACK	0x8ff0ULL
/* Identity-mapping page tables: PML4, one PDPT, 4 PDs of 2 MiB pages (covers 4 GiB). */
#define LAYOUT_PML4		0x9000ULL
#define LAYOUT_PDPT		0xa000ULL
#define LAYOUT_PD		0xb000ULL
#define LAYOUT_PD_COUNT		4
/* Kernel command line and its largest size nook accepts (the kernel may accept less). */
#define LAYOUT_CMDLINE		0x20000ULL
#define LAYOUT_CMDLINE_MAX	0x10000ULL
/* End of conventional RAM in e820; [EBDA, 1 MiB) is reported reserved. The MP floating
 * pointer must sit in the last KiB below 640 KiB where Linux scans for it; the
 * configuration table follows it (still inside the reserved hole). */
#define LAYOUT_EBDA_START	0x9fc00ULL
#define LAYOUT_MPTABLE		LAYOUT_EBDA_START
#define LAYOUT_MPTABLE_END	0x100000ULL
#define LAYOUT_HIMEM_START	0x100000ULL
/* Where a relocatable bzImage's protected-mode code is loaded (its usual pref_address). */
#define LAYOUT_KERNEL_LOAD	0x1000000ULL
/* Highest address the initrd may end at unless the kernel header says lower. */
#define LAYOUT_INITRD_MAX	0xffffffffULL

/* 32-bit MMIO gap: no RAM between 3 GiB and 4 GiB; RAM above 3 GiB moves to 4 GiB. */
#define LAYOUT_MMIO_GAP_START	0xc0000000ULL
#define LAYOUT_MMIO_GAP_END	0x100000000ULL
/* Boot timer: first page of the gap; the test init writes the byte 123 at offset 0. */
#define LAYOUT_BOOT_TIMER	0xc0000000ULL
#define LAYOUT_BOOT_TIMER_SIZE	0x1000ULL
/* Run-status register of `nook run -- CMD` (vmm/run_proto.h): the second page of the gap. */
#define LAYOUT_RUN_STATUS	0xc0001000ULL
#define LAYOUT_RUN_STATUS_SIZE	0x1000ULL
/* virtio-mmio windows: 4 KiB each from here, interrupt GSI LAYOUT_VIRTIO_GSI_BASE + n. */
#define LAYOUT_VIRTIO_MMIO_BASE	0xd0000000ULL
#define LAYOUT_VIRTIO_MMIO_SIZE	0x1000ULL
#define LAYOUT_VIRTIO_GSI_BASE	5
#define LAYOUT_VIRTIO_MAX	16	/* GSIs 5..20, all on the IOAPIC's 24 pins */
/* KVM's private pages for VMX real-mode emulation (3 pages TSS + 1 page identity map). */
#define LAYOUT_KVM_IDENTITY_MAP	0xfeffc000ULL
#define LAYOUT_KVM_TSS		0xfeffd000ULL
/* In-kernel interrupt controllers (fixed by KVM and the MP table). */
#define LAYOUT_IOAPIC		0xfec00000ULL
#define LAYOUT_LAPIC		0xfee00000ULL
#define LAYOUT_IOAPIC_PINS	24

/*
 * Shared-memory regions (virtio shm: the DAX window, the version table) live above RAM
 * and above the 32-bit gap, each starting on a 1 GiB boundary (libkrun's rule; a 2 MiB
 * boundary is what the guest's memremap_pages needs), and are never listed in e820:
 * the guest adds them as ZONE_DEVICE memory, which must not intersect System RAM.
 * They must end below the guest's PHYSMEM_END (2^46 with 4-level paging).
 */
#define LAYOUT_SHM_ALIGN	0x40000000ULL
#define LAYOUT_SHM_LIMIT	(1ULL << 46)

/* First shm address for a guest with ram_size bytes of RAM (laid out as vm.c does:
 * up to the gap below it, the rest from 4 GiB on). */
static inline unsigned long long layout_shm_base(unsigned long long ram_size)
{
	unsigned long long end = LAYOUT_MMIO_GAP_END;

	if (ram_size > LAYOUT_MMIO_GAP_START)
		end += ram_size - LAYOUT_MMIO_GAP_START;
	return (end + LAYOUT_SHM_ALIGN - 1) & ~(LAYOUT_SHM_ALIGN - 1);
}

/* Port I/O. */
#define LAYOUT_COM1_PORT	0x3f8
#define LAYOUT_COM1_GSI		4
#define LAYOUT_I8042_DATA	0x60
#define LAYOUT_I8042_CMD	0x64
#define LAYOUT_PVPANIC_PORT	0x505
#define LAYOUT_CMOS_PORT	0x70	/* index 0x70, data 0x71 */

#endif

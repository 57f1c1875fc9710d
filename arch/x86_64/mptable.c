#include "arch/x86_64/mptable.h"

#include <errno.h>
#include <string.h>

#include "arch/x86_64/layout.h"

/* Structures from the MP specification (all little-endian, packed). */
struct mpf_intel {
	char signature[4];	/* "_MP_" */
	uint32_t physptr;	/* configuration table address */
	uint8_t length;		/* in 16-byte units: 1 */
	uint8_t specification;	/* 4 = version 1.4 */
	uint8_t checksum;
	uint8_t feature1;	/* 0: a configuration table is present */
	uint8_t feature2;
	uint8_t feature3[3];
} __attribute__((packed));

struct mpc_table {
	char signature[4];	/* "PCMP" */
	uint16_t length;	/* base table incl. entries */
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;	/* number of entries */
	uint32_t lapic;
	uint32_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type;		/* 0 */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;	/* 1 enabled, 2 bootstrap processor */
	uint32_t cpufeature;
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type;		/* 1 */
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type;		/* 2 */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;		/* 1 enabled */
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc {
	uint8_t type;		/* 3 I/O interrupt, 4 local interrupt */
	uint8_t irqtype;	/* 0 INT, 1 NMI, 3 ExtINT */
	uint16_t irqflag;	/* 0: conforms to the bus */
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));

#define MP_APIC_VERSION	0x14
#define MP_IOAPIC_VERSION 0x11
#define MP_CPU_FEATURE	0x600	/* family 6, generic */
#define MP_FEATURE_FPU_APIC ((1u << 0) | (1u << 9))

uint8_t mptable_checksum(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (uint32_t i = 0; i < len; i++)
		sum += b[i];
	return (uint8_t)(0x100 - sum);
}

int mptable_write(struct guest_mem *m, int nr_cpus)
{
	const uint64_t mpf_addr = LAYOUT_MPTABLE;
	const uint64_t mpc_addr = LAYOUT_MPTABLE + sizeof(struct mpf_intel);
	const uint8_t ioapic_id = (uint8_t)nr_cpus;
	uint64_t size;
	uint16_t count = 0;
	struct mpf_intel *mpf;
	struct mpc_table *mpc;
	uint8_t *p;

	if (nr_cpus < 1 || nr_cpus > MPTABLE_MAX_CPUS)
		return -EINVAL;
	size = sizeof(*mpc) + sizeof(struct mpc_cpu) * (uint64_t)nr_cpus + sizeof(struct mpc_bus) +
	       sizeof(struct mpc_ioapic) + sizeof(struct mpc_intsrc) * (LAYOUT_IOAPIC_PINS + 2);
	if (mpc_addr + size > LAYOUT_MPTABLE_END)
		return -ENOSPC;
	mpf = gmem_ptr(m, mpf_addr, sizeof(*mpf));
	mpc = gmem_ptr(m, mpc_addr, size);
	if (!mpf || !mpc)
		return -EFAULT;
	memset(mpf, 0, sizeof(*mpf));
	memset(mpc, 0, size);

	p = (uint8_t *)(mpc + 1);
	for (int i = 0; i < nr_cpus; i++) {
		struct mpc_cpu c = {
			.type = 0, .apicid = (uint8_t)i, .apicver = MP_APIC_VERSION,
			.cpuflag = 1 | (i == 0 ? 2 : 0), .cpufeature = MP_CPU_FEATURE,
			.featureflag = MP_FEATURE_FPU_APIC,
		};
		memcpy(p, &c, sizeof(c));
		p += sizeof(c);
		count++;
	}
	{
		struct mpc_bus b = { .type = 1, .busid = 0, .bustype = "ISA   " };
		struct mpc_ioapic io = { .type = 2, .apicid = ioapic_id, .apicver = MP_IOAPIC_VERSION,
					 .flags = 1, .apicaddr = (uint32_t)LAYOUT_IOAPIC };

		memcpy(p, &b, sizeof(b));
		p += sizeof(b);
		memcpy(p, &io, sizeof(io));
		p += sizeof(io);
		count += 2;
	}
	/* ISA IRQ n -> IOAPIC pin n for every pin (virtio-mmio GSIs included). */
	for (int i = 0; i < LAYOUT_IOAPIC_PINS; i++) {
		struct mpc_intsrc s = { .type = 3, .irqtype = 0, .srcbus = 0,
					.srcbusirq = (uint8_t)i, .dstapic = ioapic_id,
					.dstirq = (uint8_t)i };
		memcpy(p, &s, sizeof(s));
		p += sizeof(s);
		count++;
	}
	/* Local interrupts of every LAPIC: LINT0 = ExtINT (8259), LINT1 = NMI. */
	{
		struct mpc_intsrc l0 = { .type = 4, .irqtype = 3, .dstapic = 0xff, .dstirq = 0 };
		struct mpc_intsrc l1 = { .type = 4, .irqtype = 1, .dstapic = 0xff, .dstirq = 1 };

		memcpy(p, &l0, sizeof(l0));
		p += sizeof(l0);
		memcpy(p, &l1, sizeof(l1));
		p += sizeof(l1);
		count += 2;
	}

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)size;
	mpc->spec = 4;
	memcpy(mpc->oem, "NOOK    ", 8);
	memcpy(mpc->productid, "MICROVM     ", 12);
	mpc->oemcount = count;
	mpc->lapic = (uint32_t)LAYOUT_LAPIC;
	mpc->checksum = mptable_checksum(mpc, (uint32_t)size);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = (uint32_t)mpc_addr;
	mpf->length = 1;
	mpf->specification = 4;
	mpf->checksum = mptable_checksum(mpf, sizeof(*mpf));
	return 0;
}

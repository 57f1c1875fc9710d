#include "arch/x86_64/cpuid.h"

#include <string.h>

#define CPUID_KVM_SIGNATURE	0x40000000
#define CPUID_KVM_FEATURES	0x40000001

/* Leaf 1 ECX / EDX. */
#define F1_ECX_PCLMULQDQ	(1u << 1)
#define F1_ECX_FMA		(1u << 12)
#define F1_ECX_CX16		(1u << 13)
#define F1_ECX_SSE41		(1u << 19)
#define F1_ECX_SSE42		(1u << 20)
#define F1_ECX_MOVBE		(1u << 22)
#define F1_ECX_POPCNT		(1u << 23)
#define F1_ECX_AES		(1u << 25)
#define F1_ECX_XSAVE		(1u << 26)
#define F1_ECX_OSXSAVE		(1u << 27)
#define F1_ECX_AVX		(1u << 28)
#define F1_ECX_F16C		(1u << 29)
#define F1_ECX_RDRAND		(1u << 30)
#define F1_ECX_HYPERVISOR	(1u << 31)
#define F1_EDX_HTT		(1u << 28)
/* Leaf 7.0 EBX / ECX / EDX. */
#define F7_EBX_FSGSBASE		(1u << 0)
#define F7_EBX_BMI1		(1u << 3)
#define F7_EBX_AVX2		(1u << 5)
#define F7_EBX_SMEP		(1u << 7)
#define F7_EBX_BMI2		(1u << 8)
#define F7_EBX_ERMS		(1u << 9)
#define F7_EBX_AVX512_MASK	0xdc230000u	/* F, DQ, IFMA, PF, ER, CD, BW, VL */
#define F7_EBX_RDSEED		(1u << 18)
#define F7_EBX_ADX		(1u << 19)
#define F7_EBX_SMAP		(1u << 20)
#define F7_ECX_AVX512_MASK	0x00005842u	/* VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ */
#define F7_ECX_VAES_VPCLMUL	((1u << 9) | (1u << 10))
#define F7_EDX_FSRM		(1u << 4)
#define F7_EDX_AVX512_MASK	0x0000010cu	/* 4VNNIW, 4FMAPS, VP2INTERSECT */
/* Leaf 0x80000001 ECX. */
#define F81_ECX_ABM		(1u << 5)
#define F81_ECX_SSE4A		(1u << 6)
#define F81_ECX_XOP		(1u << 11)
#define F81_ECX_FMA4		(1u << 16)
#define F81_ECX_TBM		(1u << 21)

struct kvm_cpuid_entry2 *cpuid_find(struct cpuid_table *t, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < t->head.nent; i++) {
		struct kvm_cpuid_entry2 *e = &t->entries[i];

		if (e->function != function)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != index)
			continue;
		return e;
	}
	return NULL;
}

static uint32_t cpuid_order(uint32_t n)
{
	uint32_t bits = 0;

	while ((1u << bits) < n)
		bits++;
	return bits;
}

/* Leaves 0xB / 0x1F: level 0 = SMT (one thread per core), level 1 = core. */
static void cpuid_set_topology_leaf(struct kvm_cpuid_entry2 *e, const struct cpuid_opts *o)
{
	e->edx = o->apic_id;
	switch (e->index) {
	case 0:
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (1u << 8) | 0;
		break;
	case 1:
		e->eax = cpuid_order(o->nr_cpus);
		e->ebx = o->nr_cpus;
		e->ecx = (2u << 8) | 1;
		break;
	default:
		e->eax = 0;
		e->ebx = 0;
		e->ecx = e->index;
		break;
	}
}

static void cpuid_mask_pvm(struct kvm_cpuid_entry2 *e, const struct cpuid_opts *o)
{
	switch (e->function) {
	case 1:
		e->ecx &= ~(F1_ECX_PCLMULQDQ | F1_ECX_FMA | F1_ECX_CX16 | F1_ECX_SSE41 |
			    F1_ECX_SSE42 | F1_ECX_MOVBE | F1_ECX_POPCNT | F1_ECX_AES |
			    F1_ECX_XSAVE | F1_ECX_OSXSAVE | F1_ECX_AVX | F1_ECX_F16C |
			    F1_ECX_RDRAND);
		break;
	case 7:
		if (e->index != 0)
			break;
		e->ebx &= ~(F7_EBX_FSGSBASE | F7_EBX_BMI1 | F7_EBX_AVX2 | F7_EBX_SMEP |
			    F7_EBX_BMI2 | F7_EBX_ERMS | F7_EBX_AVX512_MASK | F7_EBX_RDSEED |
			    F7_EBX_ADX | F7_EBX_SMAP);
		e->ecx &= ~(F7_ECX_AVX512_MASK | F7_ECX_VAES_VPCLMUL);
		e->edx &= ~(F7_EDX_FSRM | F7_EDX_AVX512_MASK);
		break;
	case 0xd:
		/* No XSAVE: the extended state leaf must describe nothing. */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0x80000001:
		e->ecx &= ~(F81_ECX_ABM | F81_ECX_SSE4A | F81_ECX_XOP | F81_ECX_FMA4 | F81_ECX_TBM);
		break;
	case CPUID_KVM_FEATURES:
		/* These PV paths end in VMMCALL hypercalls that never return here. */
		if (o->nr_cpus > 1)
			e->eax &= ~((1u << CPUID_KVM_FEATURE_PV_UNHALT) |
				    (1u << CPUID_KVM_FEATURE_PV_TLB_FLUSH) |
				    (1u << CPUID_KVM_FEATURE_PV_SEND_IPI) |
				    (1u << CPUID_KVM_FEATURE_PV_SCHED_YIELD));
		break;
	}
}

/* KVM always reports its signature leaves; add them if a (test) table lacks them. */
static void cpuid_ensure_kvm_leaves(struct cpuid_table *t)
{
	if (cpuid_find(t, CPUID_KVM_SIGNATURE, 0) || t->head.nent + 2 > CPUID_MAX_ENTRIES)
		return;
	t->entries[t->head.nent++] = (struct kvm_cpuid_entry2){ .function = CPUID_KVM_SIGNATURE };
	t->entries[t->head.nent++] = (struct kvm_cpuid_entry2){
		.function = CPUID_KVM_FEATURES, .eax = 1u << CPUID_KVM_FEATURE_CLOCKSOURCE2 };
}

void cpuid_setup(struct cpuid_table *t, const struct cpuid_opts *o)
{
	cpuid_ensure_kvm_leaves(t);
	for (uint32_t i = 0; i < t->head.nent; i++) {
		struct kvm_cpuid_entry2 *e = &t->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffffu) | (o->apic_id << 24) |
				 ((o->nr_cpus & 0xff) << 16);
			e->ecx |= F1_ECX_HYPERVISOR;
			if (o->nr_cpus > 1)
				e->edx |= F1_EDX_HTT;
			else
				e->edx &= ~F1_EDX_HTT;
			break;
		case 4:
			/* Deterministic cache parameters: cores per package, and which caches
			 * are shared (level 3 by all cores, lower levels private). */
			if ((e->eax & 0x1f) == 0)
				break;
			e->eax &= 0x3fff;
			e->eax |= (o->nr_cpus - 1) << 26;
			if (((e->eax >> 5) & 0x7) >= 3)
				e->eax |= (o->nr_cpus - 1) << 14;
			break;
		case 0xb:
		case 0x1f:
			cpuid_set_topology_leaf(e, o);
			break;
		case 0x80000008:
			/* AMD: cores per package - 1 and the APIC-id bits they use. */
			e->ecx = (e->ecx & ~0xf0ffu) | (cpuid_order(o->nr_cpus) << 12) |
				 ((o->nr_cpus - 1) & 0xff);
			break;
		case 0x8000001e:
			/* AMD extended APIC id; one thread per core, one node. */
			e->eax = o->apic_id;
			e->ebx = o->apic_id & 0xff;
			e->ecx = 0;
			break;
		case CPUID_KVM_SIGNATURE:
			e->eax = CPUID_KVM_FEATURES;
			memcpy(&e->ebx, "KVMK", 4);
			memcpy(&e->ecx, "VMKV", 4);
			memcpy(&e->edx, "M\0\0\0", 4);
			break;
		}
		if (o->pvm)
			cpuid_mask_pvm(e, o);
	}
}

/*
 * Per-vCPU CPUID: start from KVM_GET_SUPPORTED_CPUID, then set the topology (APIC id,
 * logical/core counts), the KVM signature leaves and, on a software-virtualized host,
 * hide what its instruction emulator cannot execute.
 */
#ifndef NOOK_ARCH_X86_64_CPUID_H
#define NOOK_ARCH_X86_64_CPUID_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#define CPUID_MAX_ENTRIES 256

struct cpuid_table {
	struct kvm_cpuid2 head;
	struct kvm_cpuid_entry2 entries[CPUID_MAX_ENTRIES];
};

struct cpuid_opts {
	uint32_t apic_id;	/* this vCPU */
	uint32_t nr_cpus;	/* one package, one thread per core */
	bool pvm;		/* software-virtualized host: mask features (arch/x86_64/pvm.h) */
};

/* Rewrites t in place for one vCPU. */
void cpuid_setup(struct cpuid_table *t, const struct cpuid_opts *o);

/* Entry for (function, index) or NULL. */
struct kvm_cpuid_entry2 *cpuid_find(struct cpuid_table *t, uint32_t function, uint32_t index);

/* KVM paravirt feature bits (leaf 0x40000001 EAX). */
#define CPUID_KVM_FEATURE_CLOCKSOURCE2	3
#define CPUID_KVM_FEATURE_PV_UNHALT	7
#define CPUID_KVM_FEATURE_PV_TLB_FLUSH	9
#define CPUID_KVM_FEATURE_PV_SEND_IPI	11
#define CPUID_KVM_FEATURE_PV_SCHED_YIELD 13

#endif

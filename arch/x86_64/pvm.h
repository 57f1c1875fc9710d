/*
 * Software-virtualized KVM hosts (the kvm_pvm module): guest kernel code is emulated
 * instruction by instruction, and the emulator cannot execute XSAVE, POPCNT, CMPXCHG16B,
 * AVX and friends, nor return from VMMCALL-based PV hypercalls. nook then masks CPUID
 * (arch/x86_64/cpuid.c) and prepends PVM_CMDLINE to the guest command line - always,
 * even with --cmdline, because the guest cannot boot without it.
 */
#ifndef NOOK_ARCH_X86_64_PVM_H
#define NOOK_ARCH_X86_64_PVM_H

#include <stdbool.h>

#define PVM_CMDLINE "noxsave clearcpuid=popcnt,avx,avx2,avx512f,bmi1,bmi2,movbe,erms,fsrm," \
	"fsgsbase,rdrand,rdseed,sse4_1,sse4_2,aes,pclmulqdq,abm,smap,smep,cx16 rodata=off " \
	"percpu_alloc=page noreplace-smp"

/* NOOK_PVM=0|1 overrides; otherwise true when /sys/module/kvm_pvm exists. */
bool pvm_detect(void);

#endif

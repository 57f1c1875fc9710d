/* vCPU register state for the 64-bit Linux boot protocol, and its boot MSRs/LAPIC. */
#ifndef NOOK_ARCH_X86_64_CPU_H
#define NOOK_ARCH_X86_64_CPU_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

/* Fills sregs for long mode with the boot GDT and identity page tables. */
void cpu_boot_sregs(struct kvm_sregs *s);
/* General registers of the boot CPU: RIP = entry, RSI = zero page. */
void cpu_boot_regs(struct kvm_regs *r, uint64_t entry);

/* Applies CPUID (already set up), MSRs, FPU, LAPIC LINT0/1; for the boot CPU also
 * sregs/regs. Returns 0 or -errno with a message in err. */
int cpu_init_vcpu(int vcpu_fd, struct kvm_cpuid2 *cpuid, int index, uint64_t entry,
		  char *err, size_t errlen);

#endif

#include "arch/x86_64/cpu.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/layout.h"
#include "vmm/log.h"

#define CR0_PE		(1ULL << 0)
#define CR0_ET		(1ULL << 4)
#define CR0_PG		(1ULL << 31)
#define CR4_PAE		(1ULL << 5)
#define EFER_LME	(1ULL << 8)
#define EFER_LMA	(1ULL << 10)

#define MSR_IA32_SYSENTER_CS	0x174
#define MSR_IA32_SYSENTER_ESP	0x175
#define MSR_IA32_SYSENTER_EIP	0x176
#define MSR_STAR		0xc0000081
#define MSR_LSTAR		0xc0000082
#define MSR_CSTAR		0xc0000083
#define MSR_SYSCALL_MASK	0xc0000084
#define MSR_KERNEL_GS_BASE	0xc0000102
#define MSR_IA32_TSC		0x10
#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MISC_ENABLE_FAST_STRING	1ULL
#define MTRR_ENABLE_WB		((1ULL << 11) | 6)

#define APIC_LVT0	0x350
#define APIC_LVT1	0x360
#define APIC_MODE_NMI	0x4
#define APIC_MODE_EXTINT 0x7

static struct kvm_segment cpu_seg(uint16_t sel, uint8_t type, uint8_t l, uint8_t db)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = db, .s = 1, .l = l, .g = 1,
	};
}

void cpu_boot_sregs(struct kvm_sregs *s)
{
	struct kvm_segment data = cpu_seg(BOOT_GDT_DATA, 3, 0, 1);

	s->cs = cpu_seg(BOOT_GDT_CODE, 11, 1, 0);
	s->ds = s->es = s->fs = s->gs = s->ss = data;
	s->tr = (struct kvm_segment){ .selector = BOOT_GDT_TSS, .limit = 0x67, .type = 11,
				      .present = 1 };
	s->gdt.base = LAYOUT_GDT_ADDR;
	s->gdt.limit = BOOT_GDT_ENTRIES * 8 - 1;
	s->idt.base = 0;
	s->idt.limit = 0;
	s->cr0 = CR0_PE | CR0_ET | CR0_PG;
	s->cr3 = LAYOUT_PML4;
	s->cr4 = CR4_PAE;
	s->efer = EFER_LME | EFER_LMA;
}

void cpu_boot_regs(struct kvm_regs *r, uint64_t entry)
{
	memset(r, 0, sizeof(*r));
	r->rflags = 0x2;
	r->rip = entry;
	r->rsp = LAYOUT_BOOT_STACK;
	r->rbp = LAYOUT_BOOT_STACK;
	r->rsi = LAYOUT_ZERO_PAGE;
}

static int cpu_set_msrs(int fd)
{
	static const struct { uint32_t index; uint64_t data; } boot_msrs[] = {
		{ MSR_IA32_SYSENTER_CS, 0 }, { MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 }, { MSR_STAR, 0 }, { MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 }, { MSR_SYSCALL_MASK, 0 }, { MSR_LSTAR, 0 },
		{ MSR_IA32_TSC, 0 }, { MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WB },
	};
	enum { N = sizeof(boot_msrs) / sizeof(boot_msrs[0]) };
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry e[N];
	} m;
	int r;

	memset(&m, 0, sizeof(m));
	/* One MSR per call: a host that refuses one (e.g. MISC_ENABLE) still gets the rest. */
	for (int i = 0; i < N; i++) {
		m.head.nmsrs = 1;
		m.e[0].index = boot_msrs[i].index;
		m.e[0].data = boot_msrs[i].data;
		r = ioctl(fd, KVM_SET_MSRS, &m);
		if (r < 0)
			return -errno;
		if (r != 1)
			log_debug("KVM_SET_MSRS: MSR 0x%x not accepted", boot_msrs[i].index);
	}
	return 0;
}

static int cpu_set_lint(int fd)
{
	struct kvm_lapic_state lapic;
	uint32_t v;

	if (ioctl(fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	memcpy(&v, &lapic.regs[APIC_LVT0], 4);
	v = (v & ~0x700u) | (APIC_MODE_EXTINT << 8);
	memcpy(&lapic.regs[APIC_LVT0], &v, 4);
	memcpy(&v, &lapic.regs[APIC_LVT1], 4);
	v = (v & ~0x700u) | (APIC_MODE_NMI << 8);
	memcpy(&lapic.regs[APIC_LVT1], &v, 4);
	if (ioctl(fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}

int cpu_init_vcpu(int fd, struct kvm_cpuid2 *cpuid, int index, uint64_t entry,
		  char *err, size_t errlen)
{
	struct kvm_fpu fpu;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	const char *what;
	int r;

	what = "KVM_SET_CPUID2";
	if (ioctl(fd, KVM_SET_CPUID2, cpuid) < 0)
		goto fail_errno;
	what = "KVM_SET_MSRS";
	r = cpu_set_msrs(fd);
	if (r < 0) {
		errno = -r;
		goto fail_errno;
	}
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	what = "KVM_SET_FPU";
	if (ioctl(fd, KVM_SET_FPU, &fpu) < 0)
		goto fail_errno;
	what = "KVM_SET_LAPIC";
	r = cpu_set_lint(fd);
	if (r < 0) {
		errno = -r;
		goto fail_errno;
	}
	/* Application processors stay in wait-for-SIPI; only the BSP gets boot state. */
	if (index != 0)
		return 0;
	what = "KVM_GET_SREGS";
	if (ioctl(fd, KVM_GET_SREGS, &sregs) < 0)
		goto fail_errno;
	cpu_boot_sregs(&sregs);
	what = "KVM_SET_SREGS";
	if (ioctl(fd, KVM_SET_SREGS, &sregs) < 0)
		goto fail_errno;
	cpu_boot_regs(&regs, entry);
	what = "KVM_SET_REGS";
	if (ioctl(fd, KVM_SET_REGS, &regs) < 0)
		goto fail_errno;
	return 0;

fail_errno:
	r = -errno;
	snprintf(err, errlen, "vCPU %d: %s failed: %s", index, what, strerror(errno));
	return r;
}

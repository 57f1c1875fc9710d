/* MP table, CPUID setup, command line assembly, boot register state. */
#include <criterion/criterion.h>
#include <string.h>

#include "arch/x86_64/cmdline.h"
#include "arch/x86_64/cpu.h"
#include "arch/x86_64/cpuid.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/mptable.h"
#include "arch/x86_64/pvm.h"

static struct guest_mem mem;

static void map_small(void)
{
	struct gmem_region l = { 0, 16 << 20, NULL };

	cr_assert_eq(gmem_map(&mem, &l, 1), 0);
}

static void unmap(void)
{
	gmem_unmap(&mem);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

TestSuite(arch_mptable, .init = map_small, .fini = unmap);

static void check_mptable(int cpus)
{
	const uint8_t *mpf, *mpc, *e;
	uint32_t physptr;
	uint16_t len, count;
	int ncpu = 0, nio = 0;

	cr_assert_eq(mptable_write(&mem, cpus), 0);
	mpf = gmem_ptr(&mem, LAYOUT_MPTABLE, 16);
	cr_assert_eq(memcmp(mpf, "_MP_", 4), 0);
	cr_assert_eq(sum(mpf, 16), 0, "floating pointer checksum");
	memcpy(&physptr, mpf + 4, 4);
	mpc = gmem_ptr(&mem, physptr, 44);
	cr_assert_not_null(mpc);
	cr_assert_eq(memcmp(mpc, "PCMP", 4), 0);
	memcpy(&len, mpc + 4, 2);
	memcpy(&count, mpc + 34, 2);
	cr_assert_eq(sum(gmem_ptr(&mem, physptr, len), len), 0, "table checksum");
	cr_assert_leq(physptr + len, LAYOUT_MPTABLE_END);
	e = mpc + 44;
	for (int i = 0; i < count; i++) {
		switch (e[0]) {
		case 0:
			cr_assert_eq(e[1], ncpu, "APIC ids in order");
			cr_assert_eq(!!(e[3] & 2), ncpu == 0, "BSP flag only on CPU 0");
			cr_assert(e[3] & 1);
			ncpu++;
			e += 20;
			break;
		case 3:
			nio++;
			/* fallthrough */
		default:
			e += 8;
		}
	}
	cr_assert_eq(ncpu, cpus);
	cr_assert_eq(nio, LAYOUT_IOAPIC_PINS);
	cr_assert_eq(e, mpc + len);
}

Test(arch_mptable, one_cpu) { check_mptable(1); }
Test(arch_mptable, two_cpus) { check_mptable(2); }
Test(arch_mptable, max_cpus) { check_mptable(MPTABLE_MAX_CPUS); }

Test(arch_mptable, rejects_bad_counts)
{
	cr_assert_neq(mptable_write(&mem, 0), 0);
	cr_assert_neq(mptable_write(&mem, MPTABLE_MAX_CPUS + 1), 0);
	cr_assert_neq(mptable_write(&mem, 300), 0);
}

/* A table shaped like KVM_GET_SUPPORTED_CPUID's. */
static void fake_cpuid(struct cpuid_table *t)
{
	memset(t, 0, sizeof(*t));
	t->entries[0] = (struct kvm_cpuid_entry2){ .function = 1, .eax = 0x800f12,
		.ebx = 0x00000800, .ecx = 0xffffffff & ~(1u << 31), .edx = 0xffffffff };
	t->entries[1] = (struct kvm_cpuid_entry2){ .function = 7, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 0xffffffff, .ecx = 0xffffffff,
		.edx = 0xffffffff };
	t->entries[2] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX };
	t->entries[3] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX };
	t->entries[4] = (struct kvm_cpuid_entry2){ .function = 4, .index = 0,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x121 };	/* L1 data */
	t->entries[5] = (struct kvm_cpuid_entry2){ .function = 4, .index = 3,
		.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .eax = 0x163 };	/* L3 unified */
	t->entries[6] = (struct kvm_cpuid_entry2){ .function = 0x40000000, .eax = 0x40000001 };
	t->entries[7] = (struct kvm_cpuid_entry2){ .function = 0x40000001, .eax = 0xffffffff };
	t->entries[8] = (struct kvm_cpuid_entry2){ .function = 0xd, .eax = 7, .ebx = 0x340 };
	t->entries[9] = (struct kvm_cpuid_entry2){ .function = 0x80000001, .ecx = 0xffffffff };
	t->head.nent = 10;
}

Test(arch_cpuid, topology_per_vcpu)
{
	struct cpuid_table t;
	struct cpuid_opts o = { .apic_id = 2, .nr_cpus = 4, .pvm = false };
	struct kvm_cpuid_entry2 *e;

	fake_cpuid(&t);
	cpuid_setup(&t, &o);
	e = cpuid_find(&t, 1, 0);
	cr_assert_eq(e->ebx >> 24, 2, "APIC id in leaf 1 EBX[31:24]");
	cr_assert_eq((e->ebx >> 16) & 0xff, 4);
	cr_assert(e->ecx & (1u << 31), "hypervisor bit");
	cr_assert(e->edx & (1u << 28), "HTT with >1 logical CPU");
	e = cpuid_find(&t, 0xb, 0);
	cr_assert_eq(e->edx, 2);
	cr_assert_eq(e->ebx, 1);
	cr_assert_eq((e->ecx >> 8) & 0xff, 1, "SMT level");
	e = cpuid_find(&t, 0xb, 1);
	cr_assert_eq(e->edx, 2);
	cr_assert_eq(e->eax, 2, "4 cores need 2 APIC-id bits");
	cr_assert_eq(e->ebx, 4);
	cr_assert_eq((e->ecx >> 8) & 0xff, 2, "core level");
	e = cpuid_find(&t, 4, 0);
	cr_assert_eq(e->eax >> 26, 3, "cores per package - 1");
	cr_assert_eq((e->eax >> 14) & 0xfff, 0, "L1 private");
	e = cpuid_find(&t, 4, 3);
	cr_assert_eq((e->eax >> 14) & 0xfff, 3, "L3 shared by all");
	/* non-PVM: features untouched */
	cr_assert(cpuid_find(&t, 1, 0)->ecx & (1u << 23));
	cr_assert_eq(cpuid_find(&t, 0x40000001, 0)->eax, 0xffffffff);
}

Test(arch_cpuid, kvm_signature_leaf)
{
	struct cpuid_table t;
	struct cpuid_opts o = { .apic_id = 0, .nr_cpus = 1 };
	struct kvm_cpuid_entry2 *e;
	char sig[13] = { 0 };

	fake_cpuid(&t);
	t.head.nent = 6;	/* drop the KVM leaves: they get added */
	cpuid_setup(&t, &o);
	e = cpuid_find(&t, 0x40000000, 0);
	cr_assert_not_null(e);
	memcpy(sig, &e->ebx, 4);
	memcpy(sig + 4, &e->ecx, 4);
	memcpy(sig + 8, &e->edx, 4);
	cr_assert_str_eq(sig, "KVMKVMKVM");
	cr_assert_eq(e->eax, 0x40000001);
	cr_assert_not_null(cpuid_find(&t, 0x40000001, 0));
	cr_assert_not(cpuid_find(&t, 1, 0)->edx & (1u << 28), "no HTT for 1 CPU");
}

Test(arch_cpuid, pvm_masks_features)
{
	struct cpuid_table t;
	struct cpuid_opts o = { .apic_id = 1, .nr_cpus = 2, .pvm = true };
	struct kvm_cpuid_entry2 *e;

	fake_cpuid(&t);
	cpuid_setup(&t, &o);
	e = cpuid_find(&t, 1, 0);
	cr_assert_eq(e->ecx & ((1u << 26) | (1u << 27) | (1u << 28) | (1u << 23) | (1u << 13) |
			       (1u << 22) | (1u << 19) | (1u << 20) | (1u << 25) | (1u << 1) |
			       (1u << 30)), 0, "XSAVE/OSXSAVE/AVX/POPCNT/CX16/MOVBE/SSE4/AES/PCLMUL/RDRAND");
	e = cpuid_find(&t, 7, 0);
	cr_assert_eq(e->ebx & ((1u << 0) | (1u << 3) | (1u << 5) | (1u << 7) | (1u << 8) |
			       (1u << 9) | (1u << 16) | (1u << 18) | (1u << 20)), 0);
	cr_assert_eq(e->edx & (1u << 4), 0, "FSRM");
	cr_assert_eq(cpuid_find(&t, 0xd, 0)->eax, 0, "no XSAVE state");
	cr_assert_eq(cpuid_find(&t, 0x80000001, 0)->ecx & (1u << 5), 0, "ABM");
	e = cpuid_find(&t, 0x40000001, 0);
	cr_assert_eq(e->eax & ((1u << CPUID_KVM_FEATURE_PV_UNHALT) |
			       (1u << CPUID_KVM_FEATURE_PV_TLB_FLUSH) |
			       (1u << CPUID_KVM_FEATURE_PV_SEND_IPI) |
			       (1u << CPUID_KVM_FEATURE_PV_SCHED_YIELD)), 0);
	cr_assert(e->eax & (1u << CPUID_KVM_FEATURE_CLOCKSOURCE2), "kvmclock stays");
}

Test(arch_cpuid, pvm_single_cpu_keeps_pv_features)
{
	struct cpuid_table t;
	struct cpuid_opts o = { .apic_id = 0, .nr_cpus = 1, .pvm = true };

	fake_cpuid(&t);
	cpuid_setup(&t, &o);
	cr_assert(cpuid_find(&t, 0x40000001, 0)->eax & (1u << CPUID_KVM_FEATURE_PV_UNHALT));
}

Test(arch_cmdline, default_and_pvm)
{
	char out[4096];
	struct cmdline_parts p = { .pvm = false };

	cr_assert_eq(cmdline_build(out, sizeof(out), &p), 0);
	cr_assert_str_eq(out, CMDLINE_DEFAULT);
	p.pvm = true;
	cr_assert_eq(cmdline_build(out, sizeof(out), &p), 0);
	cr_assert_str_eq(out, PVM_CMDLINE " " CMDLINE_DEFAULT);
}

Test(arch_cmdline, replace_devices_append)
{
	char out[4096];
	struct cmdline_parts p = { .pvm = true, .replace = "console=ttyS0 init=/x",
				   .devices = "virtio_mmio.device=4K@0xd0000000:5",
				   .append = "  nook.test=panic " };

	cr_assert_eq(cmdline_build(out, sizeof(out), &p), 0);
	cr_assert_str_eq(out, PVM_CMDLINE " console=ttyS0 init=/x "
			 "virtio_mmio.device=4K@0xd0000000:5 nook.test=panic");
	cr_assert_null(strstr(out, "reboot=k"), "--cmdline replaces the default");
	p.pvm = false;
	p.replace = "";
	p.devices = NULL;
	p.append = "a=b";
	cr_assert_eq(cmdline_build(out, sizeof(out), &p), 0);
	cr_assert_str_eq(out, "a=b");
}

Test(arch_cmdline, too_long)
{
	char out[64];
	struct cmdline_parts p = { .pvm = false, .replace = "0123456789012345678901234567890",
				   .append = "0123456789012345678901234567890123" };

	cr_assert_neq(cmdline_build(out, sizeof(out), &p), 0);
	p.append = "01234567890123456789012345678901";	/* 31 + 1 + 31 + NUL = 64 */
	p.append = "0123456789012345678901234567890";
	cr_assert_eq(cmdline_build(out, sizeof(out), &p), 0);
	cr_assert_eq(strlen(out), 63);
}

Test(arch_cpu, boot_registers)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	memset(&s, 0, sizeof(s));
	cpu_boot_sregs(&s);
	cpu_boot_regs(&r, 0x1000200);
	cr_assert(s.cr0 & 1, "PE");
	cr_assert(s.cr0 & (1ULL << 31), "PG");
	cr_assert(s.cr4 & (1ULL << 5), "PAE");
	cr_assert_eq(s.efer & ((1 << 8) | (1 << 10)), (1 << 8) | (1 << 10), "LME|LMA");
	cr_assert_eq(s.cr3, LAYOUT_PML4);
	cr_assert_eq(s.cs.l, 1);
	cr_assert_eq(s.cs.selector, 0x10);
	cr_assert_eq(s.ds.selector, 0x18);
	cr_assert_eq(r.rip, 0x1000200);
	cr_assert_eq(r.rsi, LAYOUT_ZERO_PAGE);
	cr_assert_eq(r.rflags, 2);
}

Test(arch_pvm, env_override)
{
	setenv("NOOK_PVM", "0", 1);
	cr_assert_not(pvm_detect());
	setenv("NOOK_PVM", "1", 1);
	cr_assert(pvm_detect());
	unsetenv("NOOK_PVM");
}

/*
 * The config fragment of `nook kconfig`: what a kernel needs to boot under nook and run
 * `nook run -- CMD`, for scripts/kconfig/merge_config.sh on top of a developer's config
 * (merge_config.sh -m .config $(nook kconfig > nook.frag; echo nook.frag), then
 * make olddefconfig).
 *
 * Derived from what guest-kernel-config/nook.config needs functionally, without its
 * boot-speed choices (SLOB, HZ_100, no ACPI/PCI, ...). Everything is built in: nook
 * boots without an initramfs in run mode, so nothing could load a module in time.
 * tests/integration/kconfig_check.sh checks this is a subset of our guest kernel's
 * config.
 */
#include "vmm/kconfig.h"

const char kconfig_fragment[] =
	"# nook: kernel config fragment (nook kconfig), for scripts/kconfig/merge_config.sh\n"
	"\n"
	"# x86-64 boot protocol, KVM paravirt clock; PVH lets the same vmlinux boot under\n"
	"# QEMU microvm (nook itself enters at the ELF entry point)\n"
	"CONFIG_64BIT=y\n"
	"CONFIG_HYPERVISOR_GUEST=y\n"
	"CONFIG_PARAVIRT=y\n"
	"CONFIG_KVM_GUEST=y\n"
	"CONFIG_PVH=y\n"
	"\n"
	"# no ACPI in the guest: CPUs and the IO-APIC (virtio interrupts use pins above 15)\n"
	"# come from the MP table\n"
	"CONFIG_SMP=y\n"
	"CONFIG_X86_LOCAL_APIC=y\n"
	"CONFIG_X86_IO_APIC=y\n"
	"CONFIG_X86_MPPARSE=y\n"
	"\n"
	"# virtio over MMIO, devices passed as virtio_mmio.device= on the command line\n"
	"CONFIG_VIRTIO_MENU=y\n"
	"CONFIG_VIRTIO=y\n"
	"CONFIG_VIRTIO_MMIO=y\n"
	"CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y\n"
	"\n"
	"# virtio-fs: --fs shares and the --root / run-mode root file system\n"
	"CONFIG_FUSE_FS=y\n"
	"CONFIG_VIRTIO_FS=y\n"
	"\n"
	"# file systems the run-mode init mounts (tmpfs-backed overlays over the root)\n"
	"CONFIG_DEVTMPFS=y\n"
	"CONFIG_DEVTMPFS_MOUNT=y\n"
	"CONFIG_TMPFS=y\n"
	"CONFIG_PROC_FS=y\n"
	"CONFIG_SYSFS=y\n"
	"CONFIG_OVERLAY_FS=y\n"
	"\n"
	"# console: kernel log on the 8250 COM1 (console=ttyS0); the command's stdio over\n"
	"# virtio-console ports (hvc0 in tty mode); ptys for programs that open one\n"
	"CONFIG_TTY=y\n"
	"CONFIG_SERIAL_8250=y\n"
	"CONFIG_SERIAL_8250_CONSOLE=y\n"
	"CONFIG_VIRTIO_CONSOLE=y\n"
	"CONFIG_UNIX98_PTYS=y\n"
	"\n"
	"# the init and the command: static ELF binaries and #! scripts\n"
	"CONFIG_BINFMT_ELF=y\n"
	"CONFIG_BINFMT_SCRIPT=y\n"
	"\n"
	"# the init reports the exit status and the boot time through /dev/mem writes to\n"
	"# nook's registers in the MMIO gap (x86's STRICT_DEVMEM filter passes non-RAM pages,\n"
	"# but a driver's exclusive claim under IO_STRICT_DEVMEM would not: off, as in our guest)\n"
	"CONFIG_DEVMEM=y\n"
	"# CONFIG_STRICT_DEVMEM is not set\n"
	"\n"
	"# --initrd\n"
	"CONFIG_BLK_DEV_INITRD=y\n"
	"\n"
	"# optional: virtio-fs DAX window (mount -o dax); ZONE_DEVICE needs all of the\n"
	"# memory options, or olddefconfig drops it and FUSE_DAX with it\n"
	"CONFIG_SPARSEMEM_VMEMMAP=y\n"
	"CONFIG_MIGRATION=y\n"
	"CONFIG_MEMORY_HOTPLUG=y\n"
	"CONFIG_MEMORY_HOTREMOVE=y\n"
	"CONFIG_ZONE_DEVICE=y\n"
	"CONFIG_DAX=y\n"
	"CONFIG_FS_DAX=y\n"
	"CONFIG_FUSE_DAX=y\n";

int kconfig_print(FILE *f)
{
	/* sizeof - 1: the text without its terminating NUL */
	if (fwrite(kconfig_fragment, 1, sizeof(kconfig_fragment) - 1, f) !=
	    sizeof(kconfig_fragment) - 1)
		return -1;
	return fflush(f) || ferror(f) ? -1 : 0;
}

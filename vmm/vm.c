#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "arch/x86_64/boot.h"
#include "arch/x86_64/cmdline.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/mptable.h"
#include "arch/x86_64/pvm.h"
#include "vmm/log.h"
#include "vmm/run_mode.h"
#include "vmm/sandbox.h"
#include "vmm/seccomp.h"
#include "vmm/vm_internal.h"

/* Start of the nook process, for the boot timer and first-entry figures. */
static uint64_t vm_process_start_ns;

__attribute__((constructor)) static void vm_note_start(void)
{
	vm_process_start_ns = boot_timer_now_ns();
}

/* Debug trace of the startup phases (NOOK_LOG=debug), for the first-entry budget. */
static void vm_mark(const char *phase)
{
	log_debug("%s: %.3f ms after start", phase,
		  (boot_timer_now_ns() - vm_process_start_ns) / 1e6);
}

/* ---- stop requests ---- */

void vm_request_stop(struct vm *vm, int status)
{
	bool expected = false;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&vm->stopping, &expected, true))
		return;
	atomic_store(&vm->exit_status, status);
	if (write(vm->stop_fd, &one, sizeof(one)) < 0)
		log_debug("stop eventfd write: %s", strerror(errno));
}

/* ---- API for devices ---- */

int vm_add_ioeventfd(struct vm *vm, uint64_t mmio_addr, uint32_t len, uint64_t datamatch, int fd)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch, .addr = mmio_addr, .len = len, .fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

int vm_add_irqfd(struct vm *vm, uint32_t gsi, int fd)
{
	struct kvm_irqfd irq = { .fd = (uint32_t)fd, .gsi = gsi };

	return ioctl(vm->vm_fd, KVM_IRQFD, &irq) < 0 ? -errno : 0;
}

int vm_register_mmio(struct vm *vm, uint64_t base, uint64_t len, const struct bus_ops *ops,
		     void *opaque, const char *name)
{
	/* MMIO must not shadow RAM: such accesses would never exit to us. */
	for (int i = 0; i < vm->mem.nr_regions; i++) {
		const struct gmem_region *r = &vm->mem.regions[i];

		if (base < r->gpa + r->size && r->gpa < base + len)
			return -EINVAL;
	}
	if (vm_shm_overlaps(vm, base, len))
		return -EINVAL;
	return bus_register(&vm->mmio, base, len, ops, opaque, name);
}

int vm_cmdline_add(struct vm *vm, const char *param)
{
	size_t used = strlen(vm->dev_cmdline);
	int n = snprintf(vm->dev_cmdline + used, sizeof(vm->dev_cmdline) - used, "%s%s",
			 used ? " " : "", param);

	if (n < 0 || (size_t)n >= sizeof(vm->dev_cmdline) - used) {
		vm->dev_cmdline[used] = '\0';
		return -ENOSPC;
	}
	return 0;
}

int vm_alloc_virtio_slot(struct vm *vm, uint64_t *base, uint32_t *gsi)
{
	char param[64];
	uint64_t b;
	uint32_t g;

	if (vm->nr_virtio >= LAYOUT_VIRTIO_MAX)
		return -ENOSPC;
	b = LAYOUT_VIRTIO_MMIO_BASE + LAYOUT_VIRTIO_MMIO_SIZE * (uint64_t)vm->nr_virtio;
	g = LAYOUT_VIRTIO_GSI_BASE + (uint32_t)vm->nr_virtio;
	snprintf(param, sizeof(param), "virtio_mmio.device=4K@0x%llx:%u", (unsigned long long)b, g);
	if (vm_cmdline_add(vm, param))
		return -ENOSPC;
	vm->nr_virtio++;
	*base = b;
	*gsi = g;
	return 0;
}

struct guest_mem *vm_mem(struct vm *vm)
{
	return &vm->mem;
}

int vm_add_event(struct vm *vm, int fd, void (*cb)(int fd, uint32_t events, void *opaque),
		 void *opaque)
{
	return evl_add(&vm->loop, fd, cb, opaque);
}

int vm_at_teardown(struct vm *vm, void (*fn)(void *opaque), void *opaque)
{
	if (vm->nr_teardown >= VM_MAX_TEARDOWN)
		return -ENOSPC;
	vm->teardown[vm->nr_teardown].fn = fn;
	vm->teardown[vm->nr_teardown].opaque = opaque;
	vm->nr_teardown++;
	return 0;
}

/* ---- KVM setup ---- */

static int vm_open_kvm(struct vm *vm)
{
	static const struct { int cap; const char *name; } caps[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
		{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
		{ KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
	};
	int v;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		if (errno == ENOENT)
			log_err("/dev/kvm does not exist: KVM is not available on this host "
				"(load kvm_intel/kvm_amd, or enable nested virtualization)");
		else if (errno == EACCES || errno == EPERM)
			log_err("/dev/kvm: permission denied (add yourself to the kvm group)");
		else
			log_err("/dev/kvm: %s", strerror(errno));
		return -1;
	}
	v = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		log_err("KVM API version %d, nook needs %d", v, KVM_API_VERSION);
		return -1;
	}
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0) {
			log_err("KVM lacks the required capability %s", caps[i].name);
			return -1;
		}
	}
	return 0;
}

static int vm_check_limits(struct vm *vm, const struct vm_config *cfg)
{
	struct sysinfo si;
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max > 0 && cfg->cpus > max) {
		log_err("--cpus %d: KVM allows at most %d vCPUs", cfg->cpus, max);
		return -1;
	}
	/* MAP_NORESERVE would let any size "succeed"; refuse what the host cannot back. */
	if (sysinfo(&si) == 0) {
		uint64_t host = (uint64_t)si.totalram * si.mem_unit;

		if (cfg->mem_size > host) {
			log_err("--memory %llu MiB exceeds the host's RAM (%llu MiB)",
				(unsigned long long)(cfg->mem_size >> 20),
				(unsigned long long)(host >> 20));
			return -1;
		}
	}
	return 0;
}

static int vm_get_supported_cpuid(struct vm *vm)
{
	vm->cpuid = calloc(1, sizeof(*vm->cpuid));
	if (!vm->cpuid) {
		log_err("out of memory");
		return -1;
	}
	vm->cpuid->head.nent = CPUID_MAX_ENTRIES;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, &vm->cpuid->head) < 0) {
		log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int vm_create_machine(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t ident = LAYOUT_KVM_IDENTITY_MAP;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		log_err("KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0) {
		log_err("KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)LAYOUT_KVM_TSS) < 0) {
		log_err("KVM_SET_TSS_ADDR: %s", strerror(errno));
		return -1;
	}
	/* PIC + IOAPIC + LAPICs in the kernel; this also installs the default GSI routing
	 * (GSI n -> IOAPIC pin n, and PIC for n < 16) that the MP table describes. */
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_err("KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -1;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_err("KVM_CREATE_PIT2: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void *vm_memslots_register(void *arg)
{
	struct vm *vm = arg;

	for (int i = 0; i < vm->mem.nr_regions; i++) {
		struct kvm_userspace_memory_region kr = {
			.slot = (uint32_t)i,
			.guest_phys_addr = vm->mem.regions[i].gpa,
			.memory_size = vm->mem.regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)vm->mem.regions[i].hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0) {
			vm->memslot_err = errno;
			break;
		}
	}
	return NULL;
}

/* Waits for vm_memslots_register; 0, or -1 after one error line. */
static int vm_memslots_join(struct vm *vm)
{
	if (!vm->memslot_running)
		return 0;
	pthread_join(vm->memslot_thread, NULL);
	vm->memslot_running = false;
	if (vm->memslot_err) {
		log_err("KVM_SET_USER_MEMORY_REGION: %s", strerror(vm->memslot_err));
		return -1;
	}
	return 0;
}

static int vm_setup_memory(struct vm *vm, uint64_t size)
{
	struct gmem_region layout[2];
	int nr = 0, r;

	/* RAM below the 32-bit MMIO gap, the rest above 4 GiB. */
	layout[nr++] = (struct gmem_region){ .gpa = 0,
		.size = size < LAYOUT_MMIO_GAP_START ? size : LAYOUT_MMIO_GAP_START };
	if (size > LAYOUT_MMIO_GAP_START)
		layout[nr++] = (struct gmem_region){ .gpa = LAYOUT_MMIO_GAP_END,
			.size = size - LAYOUT_MMIO_GAP_START };
	r = gmem_map(&vm->mem, layout, nr);
	if (r) {
		log_err("cannot map %llu MiB of guest RAM: %s",
			(unsigned long long)(size >> 20), strerror(-r));
		return -1;
	}
	vm->shm_next = layout_shm_base(size);
	/* Registering RAM with KVM is the slowest step before the first guest entry on
	 * some hosts (~4 ms for 128 MiB on a software-virtualized one): a helper thread
	 * does it while devices are set up, the kernel loads and the vCPUs are created,
	 * and vm_memslots_join() waits for it before any vCPU runs. */
	r = pthread_create(&vm->memslot_thread, NULL, vm_memslots_register, vm);
	if (r) {
		log_err("cannot start a thread: %s", strerror(r));
		return -1;
	}
	vm->memslot_running = true;
	return 0;
}

/* ---- legacy devices ---- */

static void vm_serial_irq(void *opaque)
{
	struct vm *vm = opaque;
	uint64_t one = 1;

	if (write(vm->serial_irq_fd, &one, sizeof(one)) < 0)
		log_debug("serial irqfd: %s", strerror(errno));
}

static void vm_i8042_reset(void *opaque)
{
	log_info("guest requested reset (i8042 0xfe)");
	vm_request_stop(opaque, NOOK_EXIT_OK);
}

static void vm_pvpanic_event(void *opaque, uint8_t events)
{
	if (events & PVPANIC_PANICKED) {
		log_err("guest kernel panicked (pvpanic)");
		vm_request_stop(opaque, NOOK_EXIT_PANIC);
	} else {
		log_info("guest loaded a crash kernel (pvpanic CRASH_LOADED)");
	}
}

static int vm_setup_legacy(struct vm *vm, const struct vm_config *cfg)
{
	int r;

	vm->serial.out = console_write;
	vm->serial.out_opaque = &vm->console;
	vm->serial.irq = vm_serial_irq;
	vm->serial.irq_opaque = vm;
	serial_init(&vm->serial);
	vm->serial_irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->serial_irq_fd < 0 || vm_add_irqfd(vm, LAYOUT_COM1_GSI, vm->serial_irq_fd)) {
		log_err("serial: irqfd on GSI %d: %s", LAYOUT_COM1_GSI, strerror(errno));
		return -1;
	}
	i8042_init(&vm->i8042, vm_i8042_reset, vm);
	vm->pvpanic.event = vm_pvpanic_event;
	vm->pvpanic.opaque = vm;
	vm->boot_timer.start_ns = vm_process_start_ns;

	r = bus_register(&vm->pio, LAYOUT_COM1_PORT, SERIAL_PORT_LEN, &serial_ops, &vm->serial, "COM1");
	if (!r)
		r = bus_register(&vm->pio, LAYOUT_I8042_DATA, 1, &i8042_data_ops, &vm->i8042, "i8042 data");
	if (!r)
		r = bus_register(&vm->pio, LAYOUT_I8042_CMD, 1, &i8042_cmd_ops, &vm->i8042, "i8042 cmd");
	if (!r)
		r = bus_register(&vm->pio, LAYOUT_PVPANIC_PORT, 1, &pvpanic_ops, &vm->pvpanic, "pvpanic");
	if (!r)
		r = legacy_ports_register(&vm->pio, &vm->cmos);
	/* The guest kernel's pvpanic-mmio driver binds to a port given on the command line
	 * (guest-kernel-config/patches/0004); kept even with --cmdline, like virtio slots. */
	if (!r)
		snprintf(vm->dev_cmdline, sizeof(vm->dev_cmdline), "pvpanic_mmio.ioport=0x%x",
			 LAYOUT_PVPANIC_PORT);
	if (!r)
		r = vm_register_mmio(vm, LAYOUT_BOOT_TIMER, LAYOUT_BOOT_TIMER_SIZE, &boot_timer_ops,
				     &vm->boot_timer, "boot timer");
	run_status_init(&vm->run_status);
	if (!r && cfg->run.active)
		r = vm_register_mmio(vm, LAYOUT_RUN_STATUS, LAYOUT_RUN_STATUS_SIZE, &run_status_ops,
				     &vm->run_status, "run status");
	if (r) {
		log_err("registering legacy devices: %s", strerror(-r));
		return -1;
	}
	return 0;
}

/* ---- kernel, initrd, boot tables ---- */

/* Opens a regular file for the loaders; logs and returns -1 on failure. */
static int vm_open_file(const char *path, const char *opt, struct boot_file *f)
{
	struct stat st;

	f->buf = NULL;
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0) {
		log_err("%s %s: %s", opt, path, strerror(errno));
		return -1;
	}
	if (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_err("%s %s: not a regular file", opt, path);
		close(f->fd);
		f->fd = -1;
		return -1;
	}
	f->len = (uint64_t)st.st_size;
	f->copy = getenv("NOOK_LOAD_COPY") && strcmp(getenv("NOOK_LOAD_COPY"), "0");
	return 0;
}

static void vm_close_file(struct boot_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static int vm_load_guest(struct vm *vm, const struct vm_config *cfg, uint64_t *entry)
{
	struct boot_image bi;
	struct cmdline_parts parts = {
		.pvm = vm->pvm, .replace = cfg->cmdline, .devices = vm->dev_cmdline,
		.append = cfg->append,
	};
	struct boot_file kf = { .fd = -1 }, inf = { .fd = -1 };
	uint64_t initrd_addr = 0;
	char err[256], *cmdline = NULL;
	int r = -1;

	if (cfg->kernel_is_default && access(cfg->kernel, F_OK) != 0) {
		log_err("no --kernel given and %s does not exist (run make, or pass --kernel)",
			cfg->kernel);
		return -1;
	}
	if (vm_open_file(cfg->kernel, "--kernel", &kf))
		return -1;
	if (boot_load_kernel_file(&vm->mem, &kf, &bi, err, sizeof(err))) {
		log_err("--kernel %s: %s", cfg->kernel, err);
		goto out;
	}
	if (cfg->initrd[0]) {
		if (vm_open_file(cfg->initrd, "--initrd", &inf))
			goto out;
		if (boot_load_initrd_file(&vm->mem, &bi, &inf, &initrd_addr, err, sizeof(err))) {
			log_err("--initrd %s: %s", cfg->initrd, err);
			goto out;
		}
	}
	cmdline = malloc(bi.cmdline_max);
	if (!cmdline || cmdline_build(cmdline, bi.cmdline_max, &parts)) {
		log_err("kernel command line too long (this kernel accepts %u bytes)",
			bi.cmdline_max - 1);
		goto out;
	}
	log_debug("kernel command line: %s", cmdline);
	if (boot_write_zero_page(&vm->mem, &bi, cmdline, initrd_addr, inf.fd >= 0 ? inf.len : 0,
				 err, sizeof(err))) {
		log_err("%s", err);
		goto out;
	}
	if (boot_write_page_tables(&vm->mem) || boot_write_gdt(&vm->mem)) {
		log_err("guest RAM too small for the boot page tables");
		goto out;
	}
	r = mptable_write(&vm->mem, vm->nr_vcpus);
	if (r) {
		log_err("cannot write the MP table for %d vCPUs: %s", vm->nr_vcpus, strerror(-r));
		r = -1;
		goto out;
	}
	*entry = bi.entry;
	r = 0;
out:
	free(cmdline);
	vm_close_file(&kf);
	vm_close_file(&inf);
	return r;
}

/* ---- event loop callbacks ---- */

static void vm_on_stop(int fd, uint32_t events, void *opaque)
{
	struct vm *vm = opaque;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("stop eventfd read: %s", strerror(errno));
	evl_quit(&vm->loop);
}

static void vm_on_signal(int fd, uint32_t events, void *opaque)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (si.ssi_signo == SIGWINCH) {
		run_window_changed(vm);
		return;
	}
	/* Running a command, the first signal goes to it (it may clean up); a second one
	 * stops the guest. */
	if (run_relay_signal(vm, (int)si.ssi_signo))
		return;
	log_warn("received %s, stopping the guest", strsignal((int)si.ssi_signo));
	vm_request_stop(vm, NOOK_EXIT_SIGNAL_BASE + (int)si.ssi_signo);
}

static void vm_on_input(int fd, uint32_t events, void *opaque)
{
	struct vm *vm = opaque;
	uint8_t in[256], out[256];
	bool quit;
	ssize_t n = read(fd, in, sizeof(in));
	size_t m;

	if (n <= 0) {
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		/* EOF or error: the guest keeps running without input. */
		evl_del(&vm->loop, fd);
		return;
	}
	m = console_filter(&vm->console, in, (size_t)n, out, &quit);
	if (m && serial_input(&vm->serial, out, m) < m)
		log_debug("serial receive FIFO full, input dropped");
	if (quit) {
		log_info("quit requested from the console (Ctrl-A x)");
		vm_request_stop(vm, NOOK_EXIT_OK);
	}
}

/* ---- lifecycle ---- */

static void vm_init_fds(struct vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->stop_fd = vm->signal_fd = vm->serial_irq_fd = -1;
	vm->loop.epfd = -1;
	vm->console.in_fd = vm->console.out_fd = -1;
	atomic_init(&vm->stopping, false);
	atomic_init(&vm->exit_status, NOOK_EXIT_OK);
}

/* NOOK_LOG=info: peak RSS of nook vs the guest RAM mapped into it (the Rss of the VMAs
 * inside the guest RAM reservation: anonymous pages the guest touched plus kernel/initrd
 * file pages mapped there), the difference being nook's own memory overhead. The
 * benchmark reads this line. */
static void vm_report_memory(struct vm *vm)
{
	uintptr_t lo = (uintptr_t)vm->mem.map_base, hi = lo + vm->mem.map_len;
	unsigned long hwm = 0, guest = 0, kb;
	bool inside = false;
	char line[256];
	FILE *f;

	if (log_max_level < LOG_INFO || !vm->mem.map_base)
		return;
	f = fopen("/proc/self/smaps", "r");
	while (f && fgets(line, sizeof(line), f)) {
		unsigned long start, end;

		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' '))
			inside = start >= lo && end <= hi;
		else if (inside && sscanf(line, "Rss: %lu kB", &kb) == 1)
			guest += kb;
	}
	if (f)
		fclose(f);
	f = fopen("/proc/self/status", "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %lu kB", &hwm) == 1)
			break;
	if (f)
		fclose(f);
	log_info("memory: peak RSS %lu KiB, guest RAM resident %lu KiB, overhead %ld KiB",
		 hwm, guest, (long)hwm - (long)guest);
}

static void vm_teardown(struct vm *vm, bool serial_ready, bool i8042_ready)
{
	vm_memslots_join(vm);	/* an error path may leave it running */
	vcpu_kick_all(vm);
	while (vm->nr_teardown > 0) {
		vm->nr_teardown--;
		vm->teardown[vm->nr_teardown].fn(vm->teardown[vm->nr_teardown].opaque);
	}
	if (vm->vcpus) {
		for (int i = 0; i < vm->nr_vcpus; i++)
			vcpu_destroy(&vm->vcpus[i]);
		free(vm->vcpus);
	}
	console_close(&vm->console);
	evl_close(&vm->loop);
	if (serial_ready)
		serial_destroy(&vm->serial);
	if (i8042_ready)
		i8042_destroy(&vm->i8042);
	if (vm->signal_fd >= 0)
		close(vm->signal_fd);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	if (vm->serial_irq_fd >= 0)
		close(vm->serial_irq_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm_report_memory(vm);
	vm_shm_release(vm);
	gmem_unmap(&vm->mem);
	free(vm->cpuid);
}

static void vm_report_boot_timer(struct vm *vm, const struct vm_config *cfg)
{
	uint64_t ns = atomic_load(&vm->boot_timer.elapsed_ns);

	/* A command's stderr is the command's: the figure shows with -v only. */
	if (ns && (!cfg->run.active || cfg->run.verbose)) {
		fprintf(stderr, "nook: boot-timer: guest init reached after %.3f ms\n", ns / 1e6);
		if (cfg->boot_timer)
			printf("boot-timer: %.3f ms\n", ns / 1e6);
	} else if (cfg->boot_timer) {
		printf("boot-timer: not reached\n");
	}
	fflush(stdout);
}

int vm_run(const struct vm_config *cfg)
{
	struct vm *vm = malloc(sizeof(*vm));
	sigset_t stop_signals, old_mask;
	uint64_t entry = 0;
	char err[256];
	int status = NOOK_EXIT_ERROR;
	bool serial_ready = false, i8042_ready = false;

	if (!vm) {
		log_err("out of memory");
		return NOOK_EXIT_ERROR;
	}
	vm_init_fds(vm);
	/* Exists before anything can request a stop (devices, vCPUs). */
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vm->nr_vcpus = cfg->cpus;
	vm->pvm = pvm_detect();
	if (vm->pvm)
		log_info("software-virtualized KVM host: masking CPUID and adding guest parameters");

	/* SIGINT/TERM/HUP go to the event loop's signalfd; vCPU threads inherit the mask. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGHUP);
	sigaddset(&stop_signals, SIGWINCH);	/* tty mode: the guest terminal's size */
	pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
	vcpu_install_kick_handler();
	/* A closed stdout pipe must not kill nook mid-guest: writes then just fail. */
	signal(SIGPIPE, SIG_IGN);

	vm_mark("vm_run");
	/* Before any thread starts: namespaces every thread shares, filters compiled, the
	 * spawner running. */
	if (sandbox_prepare(cfg->sandbox, false, err, sizeof(err))) {
		log_err("%s", err);
		goto out;
	}
	status = seccomp_set_mode(cfg->seccomp);
	if (status) {
		log_err("seccomp: cannot set up the filters: %s", strerror(-status));
		status = NOOK_EXIT_ERROR;
		goto out;
	}
	status = NOOK_EXIT_ERROR;
	if (vm_open_kvm(vm) || vm_check_limits(vm, cfg) || vm_get_supported_cpuid(vm) ||
	    vm_create_machine(vm))
		goto out;
	vm_mark("KVM VM created");
	if (vm_setup_memory(vm, cfg->mem_size))
		goto out;
	vm_mark("RAM mapped");
	if (evl_init(&vm->loop)) {
		log_err("epoll: %s", strerror(errno));
		goto out;
	}
	if (console_open(&vm->console, cfg, err, sizeof(err))) {
		log_err("%s", err);
		goto out;
	}
	serial_ready = i8042_ready = true;
	if (vm_setup_legacy(vm, cfg))
		goto out;
	if (cfg->run.active && run_prepare(vm, cfg))
		goto out;
	if (vm_setup_devices(vm, cfg))
		goto out;
	vm_mark("devices set up");
	if (vm_load_guest(vm, cfg, &entry))
		goto out;
	vm_mark("kernel loaded");

	vm->vcpus = calloc((size_t)vm->nr_vcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		log_err("out of memory");
		goto out;
	}
	for (int i = 0; i < vm->nr_vcpus; i++)
		vm->vcpus[i].fd = -1;
	for (int i = 0; i < vm->nr_vcpus; i++) {
		if (vcpu_create(vm, &vm->vcpus[i], i, entry, err, sizeof(err))) {
			log_err("%s", err);
			goto out;
		}
	}

	vm_mark("vCPUs created");
	vm->signal_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->stop_fd < 0 || vm->signal_fd < 0 ||
	    evl_add(&vm->loop, vm->stop_fd, vm_on_stop, vm) ||
	    evl_add(&vm->loop, vm->signal_fd, vm_on_signal, vm)) {
		log_err("event loop setup: %s", strerror(errno));
		goto out;
	}
	/* stdin may be a regular file or /dev/null, which epoll refuses: then no input. */
	if (vm->console.in_fd >= 0 && evl_add(&vm->loop, vm->console.in_fd, vm_on_input, vm))
		log_debug("console input not pollable; the guest gets no input");

	if (vm_memslots_join(vm))
		goto out;
	/* Everything the VM needs is open: leave the host's file system behind. */
	if (sandbox_enter(err, sizeof(err))) {
		log_err("%s", err);
		goto out;
	}
	for (int i = 0; i < vm->nr_vcpus; i++) {
		int r = vcpu_start(&vm->vcpus[i]);

		if (r) {
			log_err("starting vCPU %d: %s", i, strerror(-r));
			vm_request_stop(vm, NOOK_EXIT_ERROR);
			break;
		}
		vm->guest_ran = true;
	}
	/* From here on this thread only runs the event loop and the teardown. */
	if (seccomp_install(THREAD_EVENT_LOOP)) {
		log_err("seccomp: cannot confine the main thread");
		vm_request_stop(vm, NOOK_EXIT_ERROR);
	}
	if (!atomic_load(&vm->stopping) && evl_run(&vm->loop))
		log_err("event loop: %s", strerror(errno));
	status = atomic_load(&vm->exit_status);
out:
	vm_teardown(vm, serial_ready, i8042_ready);
	vm_report_boot_timer(vm, cfg);
	if (cfg->run.active)
		status = run_exit_status(vm, status, vm->guest_ran);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	free(vm);
	return status;
}

// SPDX-License-Identifier: MIT
/*
 * nook test guest /init: a tiny static x86_64 program without libc (raw syscalls), so
 * the initramfs stays a few KB (every initramfs byte costs boot time when the guest
 * kernel is emulated).
 *
 * It mounts devtmpfs on /dev and proc on /proc, signals "init reached" to the VMM by
 * storing the byte 123 at guest-physical 0xC0000000 (first byte of the 32-bit MMIO gap;
 * nook's boot timer) through /dev/mem, prints
 *	nook-guest: hello from init
 *	nook-guest: cpus=N
 * and then acts on `nook.test=` from /proc/cmdline (the kernel swallows dotted
 * parameters as module options, so they never reach init's argv/envp):
 *	(absent)|reboot	reboot(RESTART)          -> the VMM sees an i8042 reset (reboot=k)
 *	poweroff	reboot(POWER_OFF)
 *	panic		init exits               -> "Attempted to kill init" kernel panic
 * Add new behaviours to the test_actions[] table.
 */

#define SYS_read	0
#define SYS_write	1
#define SYS_open	2
#define SYS_close	3
#define SYS_mmap	9
#define SYS_munmap	11
#define SYS_dup2	33
#define SYS_exit	60
#define SYS_mkdir	83
#define SYS_mount	165
#define SYS_reboot	169

#define O_RDONLY	0
#define O_RDWR		2
#define O_SYNC		04010000
#define PROT_READ	1
#define PROT_WRITE	2
#define MAP_SHARED	1

#define REBOOT_MAGIC1		0xfee1dead
#define REBOOT_MAGIC2		672274793
#define REBOOT_CMD_RESTART	0x01234567
#define REBOOT_CMD_POWER_OFF	0x4321fedc

#define BOOT_TIMER_GPA		0xC0000000UL
#define BOOT_TIMER_VALUE	123

static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#define sys3(nr, a, b, c) sys6(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)

static unsigned long str_len(const char *s)
{
	unsigned long n = 0;

	while (s[n])
		n++;
	return n;
}

static void put(const char *s)
{
	sys3(SYS_write, 1, s, str_len(s));
}

static void put_uint(unsigned long v)
{
	char buf[24];
	int i = sizeof(buf) - 1;

	buf[i] = 0;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v && i > 0);
	put(buf + i);
}

/* Opens the console on fds 0-2 unless the kernel already did (it needs /dev/console). */
static void init_console(void)
{
	long fd;

	if (sys3(SYS_write, 1, "", 0) >= 0)
		return;
	fd = sys3(SYS_open, "/dev/console", O_RDWR, 0);
	if (fd < 0)
		return;
	sys3(SYS_dup2, fd, 0, 0);
	sys3(SYS_dup2, fd, 1, 0);
	sys3(SYS_dup2, fd, 2, 0);
	if (fd > 2)
		sys3(SYS_close, fd, 0, 0);
}

/* One byte store to the boot-timer address; failure is ignored (e.g. no /dev/mem). */
static void boot_timer_mark(void)
{
	long fd, p;

	fd = sys3(SYS_open, "/dev/mem", O_RDWR | O_SYNC, 0);
	if (fd < 0)
		return;
	p = sys6(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, BOOT_TIMER_GPA);
	if (p < 0 && p > -4096) {
		sys3(SYS_close, fd, 0, 0);
		return;
	}
	*(volatile unsigned char *)p = BOOT_TIMER_VALUE;
	sys3(SYS_munmap, p, 4096, 0);
	sys3(SYS_close, fd, 0, 0);
}

/* Reads a small /proc file into buf (NUL-terminated); returns its length or -1. */
static long read_file(const char *path, char *buf, unsigned long size)
{
	unsigned long len = 0;
	long fd, n;

	fd = sys3(SYS_open, path, O_RDONLY, 0);
	if (fd < 0)
		return -1;
	while (len + 1 < size && (n = sys3(SYS_read, fd, buf + len, size - 1 - len)) > 0)
		len += (unsigned long)n;
	sys3(SYS_close, fd, 0, 0);
	buf[len] = 0;
	return (long)len;
}

static int starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return 0;
	return 1;
}

/* Number of "processor" lines in /proc/cpuinfo (read in chunks; it can be large). */
static unsigned long count_cpus(void)
{
	static char buf[4096];
	unsigned long count = 0;
	int at_line_start = 1;
	const char *want = "processor";
	unsigned long matched = 0;
	long fd, n, i;

	fd = sys3(SYS_open, "/proc/cpuinfo", O_RDONLY, 0);
	if (fd < 0)
		return 0;
	while ((n = sys3(SYS_read, fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			char c = buf[i];

			if (c == '\n') {
				at_line_start = 1;
				matched = 0;
				continue;
			}
			if (at_line_start && c == want[matched]) {
				if (!want[++matched]) {
					count++;
					at_line_start = 0;
				}
			} else {
				at_line_start = 0;
			}
		}
	}
	sys3(SYS_close, fd, 0, 0);
	return count;
}

/* Copies the value of `key` (e.g. "nook.test=") from the kernel command line. */
static int cmdline_value(const char *cmdline, const char *key, char *val, unsigned long size)
{
	const char *p = cmdline;

	while (*p) {
		while (*p == ' ' || *p == '\n')
			p++;
		if (starts_with(p, key)) {
			unsigned long n = 0;

			p += str_len(key);
			while (*p && *p != ' ' && *p != '\n' && n + 1 < size)
				val[n++] = *p++;
			val[n] = 0;
			return 1;
		}
		while (*p && *p != ' ' && *p != '\n')
			p++;
	}
	return 0;
}

static int str_eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static void act_reboot(void)
{
	sys6(SYS_reboot, REBOOT_MAGIC1, REBOOT_MAGIC2, REBOOT_CMD_RESTART, 0, 0, 0);
}

static void act_poweroff(void)
{
	sys6(SYS_reboot, REBOOT_MAGIC1, REBOOT_MAGIC2, REBOOT_CMD_POWER_OFF, 0, 0, 0);
}

static void act_panic(void)
{
	put("nook-guest: exiting init to panic the kernel\n");
	sys3(SYS_exit, 1, 0, 0);
}

static const struct {
	const char *name;
	void (*run)(void);
} test_actions[] = {
	{ "reboot", act_reboot },
	{ "poweroff", act_poweroff },
	{ "panic", act_panic },
};

__attribute__((used)) static void init_main(void)
{
	static char cmdline[4096];
	char test[64] = "reboot";
	unsigned long i;

	sys3(SYS_mkdir, "/dev", 0755, 0);
	sys3(SYS_mkdir, "/proc", 0555, 0);
	sys6(SYS_mount, (long)"devtmpfs", (long)"/dev", (long)"devtmpfs", 0, 0, 0);
	sys6(SYS_mount, (long)"proc", (long)"/proc", (long)"proc", 0, 0, 0);
	init_console();
	boot_timer_mark();

	put("nook-guest: hello from init\n");
	put("nook-guest: cpus=");
	put_uint(count_cpus());
	put("\n");

	if (read_file("/proc/cmdline", cmdline, sizeof(cmdline)) > 0)
		cmdline_value(cmdline, "nook.test=", test, sizeof(test));
	for (i = 0; i < sizeof(test_actions) / sizeof(test_actions[0]); i++) {
		if (str_eq(test, test_actions[i].name)) {
			test_actions[i].run();
			break;
		}
	}
	if (i == sizeof(test_actions) / sizeof(test_actions[0])) {
		put("nook-guest: unknown nook.test=");
		put(test);
		put(", rebooting\n");
		act_reboot();
	}
	/* reboot() does not return on success; if it failed, panic the kernel instead. */
	put("nook-guest: action failed, exiting init\n");
	sys3(SYS_exit, 2, 0, 0);
}

/* Entry point: no libc, no stack setup needed beyond the ABI's 16-byte alignment. */
__asm__(".globl _start\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	and $-16, %rsp\n"
	"	call init_main\n"
	"	hlt\n");

/*
 * The contract between `nook run -- CMD` (host) and the built-in guest init
 * (vmm/guest-init/). Both sides include this header; the init is built without nook's
 * other headers, so this file stays plain C with no includes.
 *
 * How a run reaches the guest:
 *  - The root share's FUSE server answers a LOOKUP of two names in the root directory
 *    that no listing shows: RUN_INIT_NAME (the static init, mode 0555) and
 *    RUN_REQUEST_NAME (the run request below, mode 0400). The kernel boots with
 *    `init=/` RUN_INIT_NAME; nothing is written into the user's directory.
 *  - The run request is a sequence of NUL-terminated records. The first is RUN_MAGIC;
 *    every other record is one tag byte followed by its value (see RUN_REC_*). Unknown
 *    tags are ignored by the init (newer host, older init). argv and env never go
 *    through the kernel command line.
 *  - Stdio travels over virtio-console ports named below (pipe mode), or over the
 *    console port (/dev/hvc0) when the host side is a terminal (tty mode).
 *  - The exit status goes to the run-status register: a 32-bit write at guest-physical
 *    LAYOUT_RUN_STATUS (arch/x86_64/layout.h, repeated here as RUN_STATUS_GPA) through
 *    /dev/mem. Then the init syncs and reboots (i8042 reset), and nook exits with it.
 */
#ifndef NOOK_VMM_RUN_PROTO_H
#define NOOK_VMM_RUN_PROTO_H

/* Lookup-only entries of the root share. */
#define RUN_INIT_NAME		".nook-init"
#define RUN_REQUEST_NAME	".nook-run"

/* First record of a run request. */
#define RUN_MAGIC		"NOOKRUN1"

/* Record tags (the byte before the value). Repeatable ones say so. */
#define RUN_REC_ARG		'a'	/* argv[i], repeatable, in order; argv[0] is the program */
#define RUN_REC_ENV		'e'	/* "KEY=VALUE", repeatable: the command's whole environment */
#define RUN_REC_CWD		'c'	/* working directory of the command */
#define RUN_REC_UID		'u'	/* decimal uid (default 0) */
#define RUN_REC_GID		'g'	/* decimal gid (default 0) */
#define RUN_REC_GROUPS		'G'	/* decimal supplementary gid, repeatable (default none) */
#define RUN_REC_HOSTNAME	'h'	/* hostname */
#define RUN_REC_TTY		't'	/* "1": stdio is the console port /dev/hvc0 (tty mode) */
#define RUN_REC_HOST_ROOT	'H'	/* "1": the root is the host's / (read-only on the host) */
#define RUN_REC_OVERLAY		'o'	/* directory to cover with a tmpfs-backed overlay,
					 * repeatable; skipped when it does not exist */
#define RUN_REC_TMPFS		'T'	/* directory to cover with an empty tmpfs, repeatable */
#define RUN_REC_MOUNT		'm'	/* "rw:TAG:PATH" or "ro:TAG:PATH": mount virtio-fs TAG at
					 * PATH, repeatable, in order (TAG has no ':') */
#define RUN_REC_MODULES		'k'	/* virtio-fs TAG to mount read-only at
					 * /lib/modules/$(uname -r) */
#define RUN_REC_VERBOSE		'v'	/* "1": the init reports its steps on the kernel console */
#define RUN_REC_HOLD		'w'	/* "1": set up, send RUN_CTL_HELD, start the command
					 * only at RUN_CTL_START (OCI create/start) */
#define RUN_REC_UMASK		'U'	/* octal umask of the command (default 022) */
#define RUN_REC_RLIMIT		'r'	/* "RES:SOFT:HARD", decimal, repeatable; RES is the
					 * RLIMIT_* number, "-1" is unlimited */
#define RUN_REC_NO_NEW_PRIVS	'n'	/* "1": PR_SET_NO_NEW_PRIVS before exec */
#define RUN_REC_MASK		'M'	/* path to hide (an empty read-only tmpfs over a
					 * directory, /dev/null over a file), repeatable */
#define RUN_REC_READONLY	'R'	/* path to remount read-only, repeatable */
#define RUN_REC_CAPS		'C'	/* "S:XXXXXXXXXXXXXXXX": capability set S (b bounding,
					 * e effective, p permitted, i inheritable, a ambient)
					 * as 16 hex digits of CAP_* bits; each S once. With
					 * any, the command gets exactly these sets (a set not
					 * sent is empty); without, root's full set */
#define RUN_REC_SECCOMP		'S'	/* the workload's seccomp filter: its struct
					 * sock_filter array in lowercase hex, at most
					 * RUN_SECCOMP_MAX_BPF bytes; once */
#define RUN_SECCOMP_MAX_BPF	24576	/* bytes (3072 instructions): fits an exec frame */

/* virtio-console ports (PORT_NAME) in pipe mode; the init finds them through
 * /sys/class/virtio-ports/vport*p* /name and opens /dev/vportNpM. */
#define RUN_PORT_STDIN		"nook.stdin"
#define RUN_PORT_STDOUT		"nook.stdout"
#define RUN_PORT_STDERR		"nook.stderr"
/* The control port, both ways: frames (RUN_CTL_* below) between nook and the init. */
#define RUN_PORT_CTL		"nook.ctl"
/* The console port (multiport port 0, /dev/hvc0 in the guest) used in tty mode. */
#define RUN_PORT_TTY		"nook.tty"

/*
 * Control frames on RUN_PORT_CTL (and, unchanged, on the VMM's --control socket, where
 * nook-oci talks to the VMM). A frame is an 8-byte header, little-endian on the wire
 * (x86: as is), then len payload bytes:
 *	u8 type; u8 arg; u16 len; u32 id;
 * id 0 is the command itself; an exec'd process has the id its RUN_CTL_EXEC frame gave
 * (the VMM numbers them; a client of the socket uses any id, the VMM maps it).
 * Each side checks every frame it reads at one place (the host: vmm/run_ctl.c).
 */
#define RUN_CTL_HDR_SIZE	8u
#define RUN_CTL_MAX_PAYLOAD	65535u	/* u16 len */
#define RUN_CTL_MAX_EXECS	16u	/* processes exec'd at a time, per VM */
#define RUN_CTL_MAX_ID		0x7fffffffu
/* host -> init */
#define RUN_CTL_START		0x01	/* release the held command (RUN_REC_HOLD) */
#define RUN_CTL_SIGNAL		0x02	/* arg: signal number, to id's process group */
#define RUN_CTL_EXEC		0x03	/* payload: a run request (RUN_MAGIC records: argv,
					 * env, cwd, uid, gid, groups, umask, tty) for id */
#define RUN_CTL_STDIN		0x04	/* payload: bytes for id's stdin; len 0: EOF */
#define RUN_CTL_RESIZE		0x05	/* payload: u16 rows, u16 cols of id's terminal */
/* socket client -> VMM only (never sent to the guest) */
#define RUN_CTL_WAIT		0x10	/* answer RUN_CTL_HELD once the guest is held */
/* init -> host */
#define RUN_CTL_HELD		0x81	/* set up, holding the command until RUN_CTL_START */
#define RUN_CTL_STARTED		0x82	/* the command (id 0) or an exec (id) is running */
#define RUN_CTL_OUTPUT		0x83	/* arg: 1 stdout, 2 stderr; payload: the bytes */
#define RUN_CTL_EXIT		0x84	/* arg: the exit status (0-255) of id */
#define RUN_CTL_CREDIT		0x85	/* payload: u32 stdin bytes of id the init has passed
					 * on (or dropped): the host may send that many more */
/* VMM -> socket client only */
#define RUN_CTL_ERROR		0x90	/* payload: one line, why the request failed */
#define RUN_CTL_OUT_MAX		32768u	/* output bytes per RUN_CTL_OUTPUT frame */
/*
 * Stdin of an exec is credit-based: at most RUN_CTL_STDIN_WINDOW bytes of RUN_CTL_STDIN
 * payload per id not yet returned by RUN_CTL_CREDIT. The init buffers that much per
 * exec, so a process that never reads its stdin stops its own stream (its sender runs
 * out of credit) and never the init's control loop. The VMM enforces the window
 * against its clients; nook-oci's exec proxy stops reading its stdin at it.
 */
#define RUN_CTL_STDIN_WINDOW	(128u << 10)

/* Run-status register (4 bytes at RUN_STATUS_GPA, written with one 32-bit store). */
#define RUN_STATUS_GPA		0xc0001000UL
#define RUN_STATUS_MAGIC	0x4e4b0000u	/* "NK" in the upper half */
#define RUN_STATUS_EXIT		0x0000u		/* | code (0-255): the command's exit status */
#define RUN_STATUS_INIT		0x0100u		/* the init started (a timestamp for bench) */
#define RUN_STATUS_EXEC		0x0200u		/* the init is about to exec the command */
#define RUN_STATUS_KIND_MASK	0xff00u
#define RUN_STATUS_CODE_MASK	0x00ffu

/* Exit statuses the init reports itself (as the shells and container runtimes do). */
#define RUN_EXIT_SETUP		125	/* the init could not set the command up */
#define RUN_EXIT_NOEXEC		126	/* found but not executable */
#define RUN_EXIT_NOTFOUND	127	/* command not found */
#define RUN_EXIT_SIGNAL_BASE	128	/* + signal number */

#endif

/*
 * `nook fs serve`'s command line: its usage text and the -o options that belong to the
 * host mount rather than to the server (fs/fuse_dev_opts.h). Split out of fs/fuse_dev.c,
 * which keeps the transport.
 */
#include "fs/fuse_dev_opts.h"

#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

void fuse_dev_usage(void)
{
	fprintf(stderr, "usage: nook fs serve SRC MOUNTPOINT [-o opt[,opt...]] [-f] [--seccomp MODE]\n"
		"  options: cache=never|metadata|auto|always, writeback, no_xattr, posix_acl,\n"
		"           ro, threads=N (default: CPUs, 2..8), poll_us=N (default 50, 0: off),\n"
		"           inode_file_handles, announce_submounts, flock, no_passthrough,\n"
		"           io_uring, stats, versions, vt_slots=N, no_vt_watch,\n"
		"           dev, suid (root only; default nodev,nosuid),\n"
		"           subtype=NAME (mount type fuse.NAME, default nook; empty: fuse),\n"
		"           fsname=NAME (the mount's source, default SRC), the mount flags\n"
		"           noatime, nodiratime, relatime, strictatime, lazytime, noexec\n"
		"  -f: accepted for mount.fuse3; nook always stays in the foreground\n"
		"  --seccomp kill|trap|log|off: per-thread syscall filters (default kill)\n"
		"  --sandbox namespace|chroot|none: per-thread capabilities, and with namespace\n"
		"           a network namespace (default namespace as root; the mount stays\n"
		"           on the host, so there is no new root here)\n");
}

/* Mount flags by name, set (on) or cleared (off); "atime" and friends undo the "no" form. */
static const struct {
	const char *name;
	unsigned long flag;
	bool on;
} fuse_dev_flag_opts[] = {
	{ "noatime", MS_NOATIME, true },        { "atime", MS_NOATIME, false },
	{ "nodiratime", MS_NODIRATIME, true },  { "diratime", MS_NODIRATIME, false },
	{ "relatime", MS_RELATIME, true },      { "norelatime", MS_RELATIME, false },
	{ "strictatime", MS_STRICTATIME, true }, { "lazytime", MS_LAZYTIME, true },
	{ "nolazytime", MS_LAZYTIME, false },   { "noexec", MS_NOEXEC, true },
	{ "exec", MS_NOEXEC, false },
};

/* One mount flag option; false when tok is none. */
static bool fuse_dev_flag_opt(const char *tok, struct fuse_dev_mount *m)
{
	for (size_t i = 0; i < sizeof(fuse_dev_flag_opts) / sizeof(fuse_dev_flag_opts[0]); i++) {
		if (strcmp(tok, fuse_dev_flag_opts[i].name))
			continue;
		if (fuse_dev_flag_opts[i].on)
			m->flags |= fuse_dev_flag_opts[i].flag;
		else
			m->flags &= ~fuse_dev_flag_opts[i].flag;
		if (fuse_dev_flag_opts[i].flag == MS_STRICTATIME && fuse_dev_flag_opts[i].on)
			m->flags &= ~(unsigned long)(MS_NOATIME | MS_RELATIME);
		m->noatime = m->flags & MS_NOATIME;
		m->nodiratime = m->flags & MS_NODIRATIME;
		return true;
	}
	return false;
}

bool fuse_dev_mount_opts(const char *v, struct fuse_dev_mount *m, char *rest, size_t len)
{
	char buf[512], *tok, *save;
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", v);
	rest[0] = 0;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "dev"))
			m->flags &= ~(unsigned long)MS_NODEV;
		else if (!strcmp(tok, "nodev"))
			m->flags |= MS_NODEV;
		else if (!strcmp(tok, "suid"))
			m->flags &= ~(unsigned long)MS_NOSUID;
		else if (!strcmp(tok, "nosuid"))
			m->flags |= MS_NOSUID;
		else if (!strncmp(tok, "subtype=", 8))
			snprintf(m->type, sizeof(m->type), "fuse%s%s", tok[8] ? "." : "", tok + 8);
		else if (!strncmp(tok, "fsname=", 7))
			snprintf(m->fsname, sizeof(m->fsname), "%s", tok + 7);
		else if (fuse_dev_flag_opt(tok, m))
			;
		else if (n < len)
			n += (size_t)snprintf(rest + n, len - n, "%s%s", n ? "," : "", tok);
	}
	return rest[0] != 0;
}

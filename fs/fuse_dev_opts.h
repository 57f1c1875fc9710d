#ifndef NOOK_FS_FUSE_DEV_OPTS_H
#define NOOK_FS_FUSE_DEV_OPTS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The mount's own dev/suid options (nodev/nosuid by default, like fusermount), its type
 * (subtype=NAME: "fuse.NAME", default "fuse.nook"; an empty NAME: plain "fuse", as
 * libfuse's low-level servers mount, which fstests' FSTYP=fuse expects) and its source
 * (fsname=NAME, as libfuse's; default the shared directory's path) are not server
 * options and mean nothing to a guest's --fs share, so they are taken out of an -o list
 * here and the rest goes to fs_options_parse(). false if nothing is left.
 */
struct fuse_dev_mount {
	unsigned long flags;
	char type[64];    /* "fuse.nook" */
	char fsname[256]; /* the mount's source; empty: the shared directory */
	bool noatime, nodiratime;
};

/* `nook fs serve` usage on stderr. */
void fuse_dev_usage(void);
/* Takes the mount's own options out of the -o list v into m; the rest, for
 * fs_options_parse(), goes to rest (len bytes). false if nothing is left. */
bool fuse_dev_mount_opts(const char *v, struct fuse_dev_mount *m, char *rest, size_t len);

#endif

/*
 * The version table in the file server: opening the tree's table, the bump rules per
 * operation (research 4.3) and the version record of entry/attr replies. The server
 * (fs/fuse_server.c) calls these around the fs/passthrough.c operations: a bump always
 * follows the host change and precedes the reply; a record's counters are always read
 * before the stat whose attributes go out with it (a counter read after the stat could
 * pair a newer version with older attributes, which a guest would then keep forever).
 * Every helper does nothing when the share has no table.
 */
#ifndef NOOK_FS_VTAB_FS_H
#define NOOK_FS_VTAB_FS_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/vtab.h"

struct pt_fs;
struct fuse_attr;

/* With opt.versions: opens the tree's table and gives inodes their slots. */
int vtfs_attach(struct pt_fs *fs, char *err, size_t errlen);
void vtfs_detach(struct pt_fs *fs);

/* Bumps the slot of a node id, of the node an fh was opened from, or a slot. */
void vtfs_bump_node(struct pt_fs *fs, uint64_t nodeid, unsigned what);
void vtfs_bump_fh(struct pt_fs *fs, uint64_t fh, unsigned what);
void vtfs_bump_slot(struct pt_fs *fs, uint64_t slot, unsigned what);
/* Sets the "writable DAX mapping" flag of a node (guests use timeouts for it then: DAX
 * stores never reach the server). By node id: Linux sends SETUPMAPPING no fh. */
void vtfs_volatile_node(struct pt_fs *fs, uint64_t nodeid);

/* The slot of the object name in directory parent names now (0: none): taken before
 * an unlink or rename, whose victims cannot be stat'ed afterwards. */
uint64_t vtfs_child_slot(struct pt_fs *fs, uint64_t parent, const char *name);

/* The record of a node before its attributes are read (slot 0 when unknown). */
void vtfs_snapshot(struct pt_fs *fs, uint64_t nodeid, struct nook_vt_entry_out *rec);
/* The record of a node, then its attributes read anew into *attr (attr->flags kept):
 * for replies whose attributes the operation read before we could take the record. */
int vtfs_snapshot_restat(struct pt_fs *fs, uint64_t nodeid, struct fuse_attr *attr,
			 struct nook_vt_entry_out *rec);

#endif

/*
 * The metadata version table (issue 12): one table of change counters per shared tree,
 * in a file /dev/shm/nook-vt-<treeid> (0600) that every nook process serving that tree
 * maps read-write (its file servers bump it) and that guests see read-only (virtio-fs
 * shm region 1). A guest keeps names, attributes and page cache while the counters it
 * saw with them are unchanged, and refreshes when they moved.
 *
 * Layout (little-endian, x86_64 only for now):
 *   page 0: struct vtab_header (magic "NOOKVTB1", layout version, slot size 16,
 *           nslots = 2^k, epoch, flags), rest zero;
 *   then nslots slots of {u64 meta, u64 data}. Slot 0 is reserved ("unversioned").
 * A file's slot is 1 + SipHash-2-4(key, dev, ino, gen) mod (nslots - 1). The 128-bit
 * key lives in a separate host-only file (/dev/shm/nook-vt-<treeid>.key, 0600), so a
 * guest cannot compute the slot of a file it cannot look up. Two files sharing a slot
 * only cost a spurious refresh; counters never go down, so nothing is ever missed.
 *
 * Counters change only with __atomic_fetch_add(SEQ_CST) after the host change and
 * before the reply; flag bits in the top of meta (VTAB_META_VOLATILE) change by CAS.
 */
#ifndef NOOK_FS_VTAB_H
#define NOOK_FS_VTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VTAB_MAGIC       "NOOKVTB1"
#define VTAB_LAYOUT      1u
#define VTAB_SLOT_SIZE   16u
#define VTAB_HDR_SIZE    4096u
#define VTAB_SLOTS_MIN   2u
#define VTAB_SLOTS_MAX   (1u << 26)     /* 1 GiB of /dev/shm */
#define VTAB_SLOTS_DEFAULT (1u << 20)   /* 16 MiB + 4 KiB */

/* What a bump touches. */
#define VTAB_META 1u
#define VTAB_DATA 2u
#define VTAB_MD   (VTAB_META | VTAB_DATA)

/* Flag bits of a slot's meta word: a writable DAX mapping exists (guests fall back to
 * timeouts for that slot while it is set). The counter lives in the low bits. */
#define VTAB_META_VOLATILE (1ull << 63)

struct vtab_header {
	char magic[8];
	uint32_t layout;
	uint32_t slot_size;
	uint64_t nslots;
	uint64_t epoch;     /* bumped when changes may have been lost (fanotify overflow) */
	uint64_t flags;     /* none defined yet */
};

struct vtab_slot {
	uint64_t meta;
	uint64_t data;
};

/* The 32-byte record a VERTAB server appends to entry and attr replies. */
struct nook_vt_entry_out {
	uint64_t slot;      /* 0: unversioned */
	uint64_t meta;
	uint64_t data;
	uint64_t epoch;
};

/* Flag in a record's slot word: no fanotify helper watches this tree for this server,
 * so changes by other host processes are not counted: the client must keep honouring
 * the entry/attr timeouts for this object (versions then only make changes made through
 * nook servers visible at once). */
#define NOOK_VT_TIMED (1ull << 63)

/* INIT flags2 bit 31 in the 64-bit view (design card item 1: no upstream kernel uses it). */
#define NOOK_FUSE_VERTAB (1ull << 63)

struct vtab;

/*
 * Opens (creating it race-free if it does not exist) the table of the tree whose root
 * is root_fd (any fd of the export's root directory). dir is where the files live (NULL:
 * $NOOK_VT_DIR, else /dev/shm); nslots (a power of two in [VTAB_SLOTS_MIN,
 * VTAB_SLOTS_MAX]) is used when creating; an existing table keeps its own size. A table
 * that is not ours (owner, mode), too short, or with a bad magic/layout/slot size is
 * refused. Returns NULL with one line in err.
 */
struct vtab *vtab_open(int root_fd, const char *dir, uint64_t nslots, char *err, size_t errlen);
void vtab_close(struct vtab *vt);

/* The table file's path and fd (for the read-only guest mapping), its size in bytes. */
const char *vtab_path(const struct vtab *vt);
int vtab_fd(const struct vtab *vt);
size_t vtab_size(const struct vtab *vt);
uint64_t vtab_nslots(const struct vtab *vt);

/* The slot of a host object, never 0 (gen: file handle generation, or 0). */
uint64_t vtab_slot(const struct vtab *vt, uint64_t dev, uint64_t ino, uint64_t gen);

/* Adds one to meta and/or data of slot (0 or out of range: nothing). */
void vtab_bump(struct vtab *vt, uint64_t slot, unsigned what);
void vtab_bump_epoch(struct vtab *vt);
/* Sets or clears flag bits of a slot's meta word by CAS (the counter is kept). */
void vtab_meta_flags(struct vtab *vt, uint64_t slot, uint64_t set, uint64_t clear);

/* The slot's counters and the epoch, as the guest would read them. */
void vtab_read(const struct vtab *vt, uint64_t slot, struct nook_vt_entry_out *out);

/* SipHash-2-4 of len bytes with a 16-byte key (fs/vtab_hash.c). */
uint64_t vtab_siphash24(const uint8_t key[16], const void *data, size_t len);

#endif

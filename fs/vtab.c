/*
 * The version table file: race-free creation, validation, slots and bumps (see
 * fs/vtab.h).
 *
 * Creation publishes a complete file or nothing: the first process builds the key and
 * the table in unnamed O_TMPFILE files (size, header, magic) and then links them under
 * their names; linkat() fails with EEXIST for every process that lost the race, which
 * then opens the winner's file. So no reader ever sees a half-written table and no
 * crashed creator leaves one behind, with no lock file and no waiting.
 *
 * Every user holds a shared flock on the table; the last to close (its exclusive
 * non-blocking lock succeeds) removes the key and then the table, so temporary trees
 * leave nothing in /dev/shm. An opener takes its shared lock and then checks that the
 * name still is the file it locked (else it raced with a remover and starts over), and
 * reads the key only under that lock, so every user of one table file uses one key.
 *
 * Both files must be ours and private (owner = our euid, no group/other bits): a table
 * someone else could write would let them hide changes from every guest of the tree.
 */
#include "fs/vtab.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/landlock.h"

struct vtab {
	int fd;
	/* The table's directory, kept open: the last user removes the files through it,
	 * also from inside the sandbox, where the directory's path no longer resolves. */
	int dirfd;
	char name[96], keyname[104];
	bool in_use;             /* open completed: we hold a shared lock on fd */
	char path[PATH_MAX];
	uint8_t key[16];
	struct vtab_header *hdr;
	struct vtab_slot *slots;
	uint64_t nslots;
	size_t size;
};

static int vtab_fail(char *err, size_t errlen, int e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int vtab_fail(char *err, size_t errlen, int e, const char *fmt, ...)
{
	if (err && errlen) {
		char msg[256];
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		if (e)
			snprintf(err, errlen, "%s: %s", msg, strerror(e));
		else
			snprintf(err, errlen, "%s", msg);
	}
	return -1;
}

/* Links the unnamed file fd as dirfd/name. 0, or -1 with errno (EEXIST: we lost). */
static int vtab_publish(int fd, int dirfd, const char *name)
{
	char proc[64];

	/* linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; our own magic link does not. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW);
}

/* An existing file of ours: regular, owned by us, private. */
static int vtab_check_file(int fd, const char *path, struct stat *st, char *err, size_t errlen)
{
	if (fstat(fd, st))
		return vtab_fail(err, errlen, errno, "%s", path);
	if (!S_ISREG(st->st_mode))
		return vtab_fail(err, errlen, 0, "version table %s is not a regular file", path);
	if (st->st_uid != geteuid() || (st->st_mode & 077))
		return vtab_fail(err, errlen, 0, "version table %s is not private to this user "
				 "(owner or mode): refusing it", path);
	return 0;
}

/* The host-only hash key: read the existing one or publish a fresh random one. */
static int vtab_load_key(int dirfd, const char *dir, const char *name, uint8_t key[16],
			 char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (int tries = 0; tries < 4; tries++) {
		int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

		if (fd >= 0) {
			ssize_t n;

			if (vtab_check_file(fd, path, &st, err, errlen)) {
				close(fd);
				return -1;
			}
			n = pread(fd, key, 16, 0);
			close(fd);
			if (n != 16 || st.st_size != 16)
				return vtab_fail(err, errlen, 0, "version table key %s is not 16 bytes", path);
			return 0;
		}
		if (errno != ENOENT)
			return vtab_fail(err, errlen, errno, "cannot open %s", path);
		fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd < 0)
			return vtab_fail(err, errlen, errno, "cannot create a file in %s", dir);
		if (getrandom(key, 16, 0) != 16 || pwrite(fd, key, 16, 0) != 16 ||
		    (vtab_publish(fd, dirfd, name) && errno != EEXIST)) {
			int e = errno;

			close(fd);
			return vtab_fail(err, errlen, e, "cannot create %s", path);
		}
		close(fd);
		/* Published (or someone else was first): read what the name holds now. */
	}
	return vtab_fail(err, errlen, 0, "%s keeps vanishing", path);
}

/* Does dirfd/name still name the file open as fd? */
static bool vtab_is_named(int fd, int dirfd, const char *name)
{
	struct stat a, b;

	return !fstat(fd, &a) && !fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Builds a complete table in an unnamed file and links it as name (EEXIST: lost). */
static int vtab_create(int dirfd, const char *path, const char *name, uint64_t nslots,
		       char *err, size_t errlen)
{
	size_t size = VTAB_HDR_SIZE + (size_t)nslots * VTAB_SLOT_SIZE;
	struct vtab_header *h;
	int fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600), r;

	if (fd < 0)
		return vtab_fail(err, errlen, errno, "cannot create the version table %s", path);
	if (ftruncate(fd, (off_t)size)) {
		int e = errno;

		close(fd);
		return vtab_fail(err, errlen, e, "cannot size the version table %s", path);
	}
	h = mmap(NULL, VTAB_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED) {
		int e = errno;

		close(fd);
		return vtab_fail(err, errlen, e, "cannot map the version table %s", path);
	}
	h->layout = VTAB_LAYOUT;
	h->slot_size = VTAB_SLOT_SIZE;
	h->nslots = nslots;
	h->epoch = 1;
	/* The magic goes last: a header with a magic is complete. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(h->magic, VTAB_MAGIC, 8);
	munmap(h, VTAB_HDR_SIZE);
	r = vtab_publish(fd, dirfd, name);
	if (r && errno != EEXIST) {
		int e = errno;

		close(fd);
		return vtab_fail(err, errlen, e, "cannot publish the version table %s", path);
	}
	close(fd);
	return 0;
}

/* Maps an existing table after checking everything a guest and we rely on. */
static int vtab_map(struct vtab *vt, char *err, size_t errlen)
{
	struct vtab_header h;
	struct stat st;
	void *p;

	if (vtab_check_file(vt->fd, vt->path, &st, err, errlen))
		return -1;
	if ((size_t)st.st_size < VTAB_HDR_SIZE || pread(vt->fd, &h, sizeof(h), 0) != sizeof(h))
		return vtab_fail(err, errlen, 0, "version table %s is too short", vt->path);
	if (memcmp(h.magic, VTAB_MAGIC, 8))
		return vtab_fail(err, errlen, 0, "%s is not a nook version table (bad magic)", vt->path);
	if (h.layout != VTAB_LAYOUT || h.slot_size != VTAB_SLOT_SIZE)
		return vtab_fail(err, errlen, 0,
				 "version table %s has another layout version or slot size", vt->path);
	if (h.nslots < VTAB_SLOTS_MIN || h.nslots > VTAB_SLOTS_MAX || (h.nslots & (h.nslots - 1)))
		return vtab_fail(err, errlen, 0, "version table %s has a bad slot count", vt->path);
	vt->nslots = h.nslots;
	vt->size = VTAB_HDR_SIZE + (size_t)h.nslots * VTAB_SLOT_SIZE;
	if ((uint64_t)st.st_size != vt->size)
		return vtab_fail(err, errlen, 0, "version table %s does not match its slot count", vt->path);
	p = mmap(NULL, vt->size, PROT_READ | PROT_WRITE, MAP_SHARED, vt->fd, 0);
	if (p == MAP_FAILED)
		return vtab_fail(err, errlen, errno, "cannot map the version table %s", vt->path);
	vt->hdr = p;
	vt->slots = (struct vtab_slot *)((char *)p + VTAB_HDR_SIZE);
	return 0;
}

struct vtab *vtab_open(int root_fd, const char *dir, uint64_t nslots, char *err, size_t errlen)
{
	struct vtab *vt;
	struct statx stx;
	char name[96], keyname[104];
	int dirfd;

	if (nslots < VTAB_SLOTS_MIN || nslots > VTAB_SLOTS_MAX || (nslots & (nslots - 1))) {
		vtab_fail(err, errlen, 0, "version table size must be a power of two in 2..67108864");
		return NULL;
	}
	if (!dir)
		dir = getenv("NOOK_VT_DIR");
	if (!dir || !*dir)
		dir = "/dev/shm";
	/* The tree's identity: the export root's device and inode. Not its mount id: a
	 * sandboxed nook (its own mount namespace) sees the same tree under a copy of the
	 * mount with a new id, and bind mounts of one directory show the same files. */
	if (statx(root_fd, "", AT_EMPTY_PATH, STATX_INO, &stx)) {
		vtab_fail(err, errlen, errno, "statx of the shared directory");
		return NULL;
	}
	snprintf(name, sizeof(name), "nook-vt-%x.%x-%llx", stx.stx_dev_major, stx.stx_dev_minor,
		 (unsigned long long)stx.stx_ino);
	snprintf(keyname, sizeof(keyname), "%s.key", name);
	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		vtab_fail(err, errlen, errno, "cannot open the version table directory %s", dir);
		return NULL;
	}
	/* The VM's event loop, Landlock-restricted, removes the files at teardown. */
	landlock_allow(dirfd, LANDLOCK_KIND(THREAD_EVENT_LOOP), LANDLOCK_FS_REMOVE_FILE);
	vt = calloc(1, sizeof(*vt));
	if (!vt) {
		close(dirfd);
		vtab_fail(err, errlen, 0, "out of memory");
		return NULL;
	}
	vt->fd = -1;
	vt->dirfd = -1;
	snprintf(vt->name, sizeof(vt->name), "%s", name);
	snprintf(vt->keyname, sizeof(vt->keyname), "%s", keyname);
	snprintf(vt->path, sizeof(vt->path), "%s/%s", dir, name);
	for (int tries = 0; tries < 8 && vt->fd < 0; tries++) {
		vt->fd = openat(dirfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (vt->fd >= 0) {
			if (flock(vt->fd, LOCK_SH)) {
				vtab_fail(err, errlen, errno, "cannot lock the version table %s",
					  vt->path);
				goto fail;
			}
			if (vtab_is_named(vt->fd, dirfd, name))
				break;
			/* Its last user removed it meanwhile: start over. */
			close(vt->fd);
			vt->fd = -1;
			continue;
		}
		if (errno != ENOENT) {
			vtab_fail(err, errlen, errno, "cannot open the version table %s", vt->path);
			goto fail;
		}
		if (vtab_create(dirfd, vt->path, name, nslots, err, errlen))
			goto fail;
	}
	if (vt->fd < 0) {
		vtab_fail(err, errlen, 0, "version table %s keeps vanishing", vt->path);
		goto fail;
	}
	if (vtab_load_key(dirfd, dir, keyname, vt->key, err, errlen) || vtab_map(vt, err, errlen))
		goto fail;
	vt->in_use = true;
	vt->dirfd = dirfd;
	return vt;
fail:
	vt->dirfd = dirfd;
	vtab_close(vt);
	return NULL;
}

void vtab_close(struct vtab *vt)
{
	struct stat a, b;

	if (!vt)
		return;
	/* The last user removes the files: key first, so no table name is ever left
	 * without the key its users had (an opener reads the key under its lock). */
	if (vt->in_use && vt->dirfd >= 0 && !flock(vt->fd, LOCK_EX | LOCK_NB) &&
	    !fstat(vt->fd, &a) && !fstatat(vt->dirfd, vt->name, &b, AT_SYMLINK_NOFOLLOW) &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		unlinkat(vt->dirfd, vt->keyname, 0);
		unlinkat(vt->dirfd, vt->name, 0);
	}
	if (vt->dirfd >= 0)
		close(vt->dirfd);
	if (vt->hdr)
		munmap(vt->hdr, vt->size);
	if (vt->fd >= 0)
		close(vt->fd);
	free(vt);
}

const char *vtab_path(const struct vtab *vt) { return vt->path; }
int vtab_fd(const struct vtab *vt) { return vt->fd; }
size_t vtab_size(const struct vtab *vt) { return vt->size; }
uint64_t vtab_nslots(const struct vtab *vt) { return vt->nslots; }

uint64_t vtab_slot(const struct vtab *vt, uint64_t dev, uint64_t ino, uint64_t gen)
{
	uint64_t in[3] = { dev, ino, gen };

	return 1 + vtab_siphash24(vt->key, in, sizeof(in)) % (vt->nslots - 1);
}

void vtab_bump(struct vtab *vt, uint64_t slot, unsigned what)
{
	if (!vt || slot == 0 || slot >= vt->nslots)
		return;
	/* SEQ_CST (lock xadd): the host change is ordered before the new value, and the
	 * new value before our reply. */
	if (what & VTAB_DATA)
		__atomic_fetch_add(&vt->slots[slot].data, 1, __ATOMIC_SEQ_CST);
	if (what & VTAB_META)
		__atomic_fetch_add(&vt->slots[slot].meta, 1, __ATOMIC_SEQ_CST);
}

void vtab_bump_epoch(struct vtab *vt)
{
	if (vt)
		__atomic_fetch_add(&vt->hdr->epoch, 1, __ATOMIC_SEQ_CST);
}

void vtab_meta_flags(struct vtab *vt, uint64_t slot, uint64_t set, uint64_t clear)
{
	uint64_t old, nv;

	if (!vt || slot == 0 || slot >= vt->nslots)
		return;
	old = __atomic_load_n(&vt->slots[slot].meta, __ATOMIC_SEQ_CST);
	do {
		uint64_t flags = (old | set) & ~clear & VTAB_META_VOLATILE;

		if (flags == (old & VTAB_META_VOLATILE))
			return;
		/* A flag change is a meta change too: guests holding the old word refresh. */
		nv = (((old & ~VTAB_META_VOLATILE) + 1) & ~VTAB_META_VOLATILE) | flags;
	} while (!__atomic_compare_exchange_n(&vt->slots[slot].meta, &old, nv, false,
					      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
}

void vtab_read(const struct vtab *vt, uint64_t slot, struct nook_vt_entry_out *out)
{
	memset(out, 0, sizeof(*out));
	if (!vt)
		return;
	out->epoch = __atomic_load_n(&vt->hdr->epoch, __ATOMIC_SEQ_CST);
	if (slot == 0 || slot >= vt->nslots)
		return;
	out->slot = slot;
	out->meta = __atomic_load_n(&vt->slots[slot].meta, __ATOMIC_SEQ_CST);
	out->data = __atomic_load_n(&vt->slots[slot].data, __ATOMIC_SEQ_CST);
}

/*
 * The fanotify helper (fs/vtab_watch.c): changes by another host process move the
 * slots they touch. Waits are bounded polls, never timing assertions.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/vtab.h"
#include "fs/vtab_watch.h"

static char tree[64], vtdir[64];
static struct vtab *vt;
static struct vtab_watch *w;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static const char *path(const char *name)
{
	static char buf[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", tree, name);
	return buf[i];
}

static void setup(void)
{
	char err[256];
	int fd;

	/* tmpfs: file handles work there, whatever /tmp is in this container. */
	strcpy(tree, "/dev/shm/nook-vtw-tree-XXXXXX");
	cr_assert_not_null(mkdtemp(tree));
	strcpy(vtdir, "/tmp/nook-vtw-test-XXXXXX");
	cr_assert_not_null(mkdtemp(vtdir));
	fd = open(tree, O_PATH | O_DIRECTORY);
	cr_assert_geq(fd, 0);
	vt = vtab_open(fd, vtdir, 65536, err, sizeof(err));
	cr_assert_not_null(vt, "%s", err);
	w = vtab_watch_start(vt, fd, err, sizeof(err));
	close(fd);
	if (!w)
		cr_skip_test("no fanotify here: %s", err);
}

static void teardown(void)
{
	vtab_watch_stop(w);
	vtab_close(vt);
	nftw(tree, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	nftw(vtdir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

TestSuite(vtab_watch, .init = setup, .fini = teardown);

static uint64_t slot_of(const char *name)
{
	struct stat st;

	cr_assert_eq(lstat(path(name), &st), 0, "%s", name);
	return vtab_slot(vt, st.st_dev, st.st_ino, 0);
}

/* Runs fn in another process (our own pid's events are skipped on purpose). */
static void as_other_process(void (*fn)(void))
{
	int st;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* Waits (at most 10 s) until the slot's meta or data word differs from before. */
static bool moved(uint64_t slot, const struct nook_vt_entry_out *before, bool data)
{
	for (int i = 0; i < 1000; i++) {
		struct nook_vt_entry_out now;

		vtab_read(vt, slot, &now);
		if (data ? now.data != before->data : now.meta != before->meta)
			return true;
		usleep(10000);
	}
	return false;
}

static void do_write(void)
{
	int fd = open(path("f"), O_WRONLY);

	if (fd < 0 || write(fd, "more", 4) != 4)
		_exit(1);
	close(fd);
}

static void do_chmod(void)
{
	if (chmod(path("f"), 0600))
		_exit(1);
}

static void do_rename(void)
{
	if (rename(path("d/f"), path("e/g")))
		_exit(1);
}

static void do_unlink(void)
{
	if (unlink(path("f")))
		_exit(1);
}

static void host_file(const char *name)
{
	int fd = open(path(name), O_CREAT | O_WRONLY, 0644);

	cr_assert_geq(fd, 0);
	close(fd);
}

Test(vtab_watch, write_moves_data)
{
	struct nook_vt_entry_out b;
	uint64_t s;

	host_file("f");
	s = slot_of("f");
	vtab_read(vt, s, &b);
	as_other_process(do_write);
	cr_assert(moved(s, &b, true), "a host write bumps the file's data");
}

Test(vtab_watch, chmod_moves_meta)
{
	struct nook_vt_entry_out b;
	uint64_t s;

	host_file("f");
	s = slot_of("f");
	vtab_read(vt, s, &b);
	as_other_process(do_chmod);
	cr_assert(moved(s, &b, false), "a host chmod bumps the file's meta");
}

Test(vtab_watch, rename_moves_both_parents_and_the_file)
{
	struct nook_vt_entry_out bd, be, bf;
	uint64_t sd, se, sf;

	cr_assert_eq(mkdir(path("d"), 0755), 0);
	cr_assert_eq(mkdir(path("e"), 0755), 0);
	host_file("d/f");
	sd = slot_of("d");
	se = slot_of("e");
	sf = slot_of("d/f");
	vtab_read(vt, sd, &bd);
	vtab_read(vt, se, &be);
	vtab_read(vt, sf, &bf);
	as_other_process(do_rename);
	cr_assert(moved(sd, &bd, true), "old parent's names");
	cr_assert(moved(se, &be, true), "new parent's names");
	cr_assert(moved(sf, &bf, false), "the moved file's meta");
}

Test(vtab_watch, unlink_moves_the_parent)
{
	struct nook_vt_entry_out b;
	uint64_t s;

	host_file("f");
	s = slot_of("");
	vtab_read(vt, s, &b);
	as_other_process(do_unlink);
	cr_assert(moved(s, &b, true), "the root's names");
}

Test(vtab_watch, own_changes_are_left_to_our_servers)
{
	struct nook_vt_entry_out bo, bf;
	uint64_t so, sf;

	host_file("own");
	host_file("f");
	so = slot_of("own");
	sf = slot_of("f");
	if (so == sf)
		cr_skip_test("the two files share a slot");
	vtab_read(vt, so, &bo);
	vtab_read(vt, sf, &bf);
	cr_assert_eq(chmod(path("own"), 0600), 0);
	as_other_process(do_chmod);
	/* Events come in order: once the later one is in, the earlier was handled. */
	cr_assert(moved(sf, &bf, false));
	{
		struct nook_vt_entry_out now;

		vtab_read(vt, so, &now);
		cr_assert_eq(now.meta, bo.meta, "our own chmod was skipped");
	}
	cr_assert_geq(vtab_watch_events(w), 2);
}

/* ---- the event parser, fed hand-made events ---- */

/* Appends one event with one FID-type record for path's handle (NULL: a bogus handle). */
static size_t make_event(char *buf, size_t off, uint64_t mask, pid_t pid, uint8_t type,
			 const char *p, const char *name)
{
	struct fanotify_event_metadata m = { .vers = FANOTIFY_METADATA_VERSION,
					     .metadata_len = sizeof(m), .mask = mask,
					     .fd = FAN_NOFD, .pid = pid };
	struct fanotify_event_info_fid fid = { .hdr = { .info_type = type } };
	union {
		struct file_handle fh;
		char b[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	size_t nl = name ? strlen(name) + 1 : 0, rec;
	int mnt;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (p) {
		cr_assert_eq(name_to_handle_at(AT_FDCWD, p, &h.fh, &mnt, 0), 0, "%s", p);
	} else {
		h.fh.handle_bytes = 8;
		h.fh.handle_type = 1;
		memset(h.fh.f_handle, 0xee, 8);
	}
	rec = sizeof(fid) + sizeof(struct file_handle) + h.fh.handle_bytes + nl;
	rec = (rec + 3) & ~(size_t)3;
	fid.hdr.len = (uint16_t)rec;
	m.event_len = (uint32_t)(sizeof(m) + rec);
	memset(buf + off, 0, m.event_len);
	memcpy(buf + off, &m, sizeof(m));
	memcpy(buf + off + sizeof(m), &fid, sizeof(fid));
	memcpy(buf + off + sizeof(m) + sizeof(fid), &h.fh,
	       sizeof(struct file_handle) + h.fh.handle_bytes);
	if (name)
		memcpy(buf + off + sizeof(m) + sizeof(fid) + sizeof(struct file_handle) +
		       h.fh.handle_bytes, name, nl);
	return off + m.event_len;
}

Test(vtab_watch, parser_bumps_per_event_kind)
{
	static char buf[4096];
	struct nook_vt_entry_out bf, bd, af, ad;
	uint64_t sf, sd;
	size_t n;

	cr_assert_eq(mkdir(path("d"), 0755), 0);
	host_file("d/f");
	sf = slot_of("d/f");
	sd = slot_of("d");
	if (sf == sd)
		cr_skip_test("file and directory share a slot");
	vtab_read(vt, sf, &bf);
	vtab_read(vt, sd, &bd);
	/* MODIFY of the file (its parent's DFID_NAME does not count), then CREATE in d. */
	n = make_event(buf, 0, FAN_MODIFY, 1, FAN_EVENT_INFO_TYPE_FID, path("d/f"), NULL);
	n = make_event(buf, n, FAN_MODIFY, 1, FAN_EVENT_INFO_TYPE_DFID_NAME, path("d"), "f");
	n = make_event(buf, n, FAN_CREATE, 1, FAN_EVENT_INFO_TYPE_DFID_NAME, path("d"), "g");
	/* The same from our own pid: skipped. */
	n = make_event(buf, n, FAN_ATTRIB, getpid(), FAN_EVENT_INFO_TYPE_FID, path("d/f"), NULL);
	vtab_watch_parse(w, buf, n);
	vtab_read(vt, sf, &af);
	vtab_read(vt, sd, &ad);
	cr_assert_eq(af.meta - bf.meta, 1);
	cr_assert_eq(af.data - bf.data, 1, "MODIFY: meta and data");
	cr_assert_eq(ad.meta - bd.meta, 1);
	cr_assert_eq(ad.data - bd.data, 1, "CREATE: the directory's names, not its MODIFY child");
	cr_assert_eq(af.epoch, bf.epoch);
}

Test(vtab_watch, parser_overflow_and_lost_objects_bump_the_epoch)
{
	static char buf[4096];
	struct fanotify_event_metadata m = {
		.event_len = sizeof(m), .vers = FANOTIFY_METADATA_VERSION,
		.metadata_len = sizeof(m), .mask = FAN_Q_OVERFLOW, .fd = FAN_NOFD, .pid = 1,
	};
	struct nook_vt_entry_out a, b;
	size_t n;

	vtab_read(vt, 1, &a);
	memcpy(buf, &m, sizeof(m));
	vtab_watch_parse(w, buf, sizeof(m));
	vtab_read(vt, 1, &b);
	cr_assert_eq(b.epoch, a.epoch + 1, "queue overflow");
	n = make_event(buf, 0, FAN_ATTRIB, 1, FAN_EVENT_INFO_TYPE_FID, NULL, NULL);
	vtab_watch_parse(w, buf, n);
	vtab_read(vt, 1, &a);
	cr_assert_eq(a.epoch, b.epoch + 1, "an object nobody can find any more");
}

Test(vtab_watch, parser_survives_malformed_buffers)
{
	static char buf[4096];
	struct fanotify_event_metadata *m = (void *)buf;
	struct nook_vt_entry_out a, b;
	size_t n;

	host_file("f");
	vtab_read(vt, 1, &a);
	n = make_event(buf, 0, FAN_ATTRIB, 1, FAN_EVENT_INFO_TYPE_FID, path("f"), NULL);
	/* Cut short anywhere: nothing read beyond the buffer (ASan watches). */
	for (size_t cut = 0; cut < n; cut++)
		vtab_watch_parse(w, buf, cut);
	/* An event claiming more than the buffer, a record claiming more than the event. */
	m->event_len = 4000;
	vtab_watch_parse(w, buf, n);
	m->event_len = (uint32_t)n;
	((struct fanotify_event_info_header *)(buf + sizeof(*m)))->len = 2000;
	vtab_watch_parse(w, buf, n);
	((struct fanotify_event_info_header *)(buf + sizeof(*m)))->len = 0;
	vtab_watch_parse(w, buf, n);
	/* A handle length past the record. */
	n = make_event(buf, 0, FAN_ATTRIB, 1, FAN_EVENT_INFO_TYPE_FID, path("f"), NULL);
	((struct file_handle *)(buf + sizeof(*m) +
				sizeof(struct fanotify_event_info_fid)))->handle_bytes = 1000;
	vtab_watch_parse(w, buf, n);
	m->vers = 0;
	vtab_watch_parse(w, buf, n);
	vtab_read(vt, 1, &b);
	cr_assert_geq(b.epoch, a.epoch, "no crash; at most epoch bumps");
}

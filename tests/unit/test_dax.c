/*
 * The DAX window (fs/dax.c, fs/dax_watch.c, fs/dax_iov.c) against a real PROT_NONE
 * reservation in this process: bounds, replace, upgrade, remove and split, reset, errors
 * that are never ENOMEM, exits past a truncated file's end, the truncation watch, and
 * hostile descriptors into the window.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fs/dax.h"
#include "fs/dax_iov.h"
#include "fs/fuse_abi.h"
#include "vmm/guest_mem.h"

#define MiB (1ULL << 20)
#define WIN (8 * MiB)

static uint8_t *win;
static struct dax_window *w;
static char dir[64];

static void dax_setup_suite(void)
{
	char err[128];

	win = mmap(NULL, WIN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert_neq(win, MAP_FAILED);
	w = dax_window_new(win, WIN, err, sizeof(err));
	cr_assert_not_null(w, "%s", err);
	strcpy(dir, "/tmp/nook-dax-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void dax_teardown_suite(void)
{
	char cmd[96];

	dax_window_free(w);
	munmap(win, WIN);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(dax, .init = dax_setup_suite, .fini = dax_teardown_suite);

/* A file of len bytes, byte i = (i / 4096 + seed) & 0xff; returns an fd opened flags. */
static int make_file(const char *name, size_t len, int seed, int flags)
{
	char path[128];
	uint8_t *buf = malloc(len);
	int fd;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i / 4096 + seed);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
	free(buf);
	fd = open(path, flags);
	cr_assert_geq(fd, 0);
	return fd;
}

/* Reads window bytes the way nook's own code must: through the kernel. */
static bool win_read(uint64_t off, void *dst, size_t len)
{
	return dax_iov_kcopy(dst, win + off, len) == 0;
}

static void assert_page(uint64_t off, uint8_t want)
{
	uint8_t b[16];

	cr_assert(win_read(off, b, sizeof(b)), "window 0x%llx unreadable", (unsigned long long)off);
	for (size_t i = 0; i < sizeof(b); i++)
		cr_assert_eq(b[i], want, "window 0x%llx: %u, want %u", (unsigned long long)off, b[i], want);
}

Test(dax, setup_maps_the_file_and_checks_bounds)
{
	int fd = make_file("a", 2 * MiB, 10, O_RDONLY);
	struct dax_stats st;
	uint8_t b;

	cr_assert(!win_read(0, &b, 1), "starts PROT_NONE");
	cr_assert_eq(dax_setup(w, fd, 0, 2 * MiB, 2 * MiB, false), 0);
	assert_page(2 * MiB, 10);
	assert_page(2 * MiB + 4096 * 5, 15);
	cr_assert_eq(dax_setup(w, fd, 4096, 4096, 0, false), 0, "file offset honoured");
	assert_page(0, 11);

	cr_assert_eq(dax_setup(w, fd, 0, 0, 0, false), -EINVAL, "len 0");
	cr_assert_eq(dax_setup(w, fd, 0, 4096, 100, false), -EINVAL, "unaligned moffset");
	cr_assert_eq(dax_setup(w, fd, 1, 4096, 0, false), -EINVAL, "unaligned foffset");
	cr_assert_eq(dax_setup(w, fd, 0, 4095, 0, false), -EINVAL, "unaligned len");
	cr_assert_eq(dax_setup(w, fd, 0, 4096, WIN, false), -EINVAL, "past the end");
	cr_assert_eq(dax_setup(w, fd, 0, 2 * MiB, WIN - MiB, false), -EINVAL, "straddles the end");
	cr_assert_eq(dax_setup(w, fd, 0, 4096, UINT64_MAX - 4095, false), -EINVAL, "wraps");
	cr_assert_eq(dax_setup(w, fd, 0, UINT64_MAX & ~4095ULL, 0, false), -EINVAL, "huge len");
	cr_assert_eq(dax_setup(w, fd, UINT64_MAX & ~4095ULL, 4096, 0, false), -EINVAL, "foffset");
	cr_assert_eq(dax_setup(w, dir[0] ? open(dir, O_RDONLY | O_DIRECTORY) : -1, 0, 4096, 0, false),
		     -EINVAL, "a directory");
	cr_assert_eq(dax_setup(w, fd, 0, 4096, 0, true), -EACCES, "writable needs O_RDWR");
	cr_assert_eq(dax_setup(w, -1, 0, 4096, 0, false), -EIO, "bad fd: EIO");
	assert_page(0, 11);
	dax_get_stats(w, &st);
	cr_assert_eq(st.setups, 2);
	cr_assert_eq(st.live, 2);
	dax_reset(w);
	close(fd);
}

Test(dax, repeated_setup_replaces_and_upgrades)
{
	int a = make_file("ra", 2 * MiB, 1, O_RDONLY), b = make_file("rb", 2 * MiB, 100, O_RDWR);
	struct dax_stats st;
	uint8_t buf[4];

	cr_assert_eq(dax_setup(w, a, 0, 2 * MiB, 0, false), 0);
	cr_assert_eq(dax_setup(w, b, 0, 2 * MiB, 0, false), 0);
	assert_page(0, 100);
	dax_get_stats(w, &st);
	cr_assert_eq(st.live, 1, "replaced, not stacked");
	/* READ -> WRITE upgrade at the same offset: writes reach the file. */
	cr_assert_eq(dax_setup(w, b, 0, 2 * MiB, 0, true), 0);
	cr_assert_eq(dax_iov_kcopy(win + 8192, "ABCD", 4), 0);
	cr_assert_eq(pread(b, buf, 4, 8192), 4);
	cr_assert_eq(memcmp(buf, "ABCD", 4), 0);
	/* A smaller mapping in the middle of a bigger one splits its record. */
	cr_assert_eq(dax_setup(w, a, 0, 4096, MiB, false), 0);
	dax_get_stats(w, &st);
	cr_assert_eq(st.live, 3);
	assert_page(MiB, 1);
	assert_page(MiB + 4096, (uint8_t)(100 + 257));
	assert_page(MiB - 4096, (uint8_t)(100 + 255));
	dax_reset(w);
	close(a);
	close(b);
}

Test(dax, remove_never_fails_in_bounds)
{
	int fd = make_file("rm", 4 * MiB, 7, O_RDONLY);
	struct dax_stats st;
	uint8_t b;

	cr_assert_eq(dax_setup(w, fd, 0, 4 * MiB, 0, false), 0);
	cr_assert_eq(dax_remove(w, MiB, 4096), 0, "a hole in the middle");
	cr_assert(!win_read(MiB, &b, 1));
	assert_page(MiB - 4096, (uint8_t)(7 + 255));
	assert_page(MiB + 4096, (uint8_t)(7 + 257));
	dax_get_stats(w, &st);
	cr_assert_eq(st.live, 2, "split around the hole");
	cr_assert_eq(dax_remove(w, 6 * MiB, 2 * MiB), 0, "nothing mapped there: still 0");
	cr_assert_eq(dax_remove(w, 100, 10), 0, "unaligned: rounded out to pages");
	cr_assert(!win_read(0, &b, 1));
	cr_assert_eq(dax_remove(w, WIN - 4096, 8192), -EINVAL);
	cr_assert_eq(dax_remove(w, UINT64_MAX - 10, 20), -EINVAL);
	cr_assert_eq(dax_remove(w, 0, 0), -EINVAL);
	dax_reset(w);
	cr_assert(!win_read(2 * MiB, &b, 1), "reset wipes everything");
	dax_get_stats(w, &st);
	cr_assert_eq(st.live, 0);
	close(fd);
}

static void *fail_mmap(void *addr, size_t len, int prot, int flags, int fd, long off)
{
	errno = ENOMEM;	/* what vm.max_map_count exhaustion looks like */
	return MAP_FAILED;
}

Test(dax, enomem_is_eio_and_leaves_the_window_alone)
{
	int fd = make_file("nm", 2 * MiB, 40, O_RDONLY);
	struct dax_stats st;

	cr_assert_eq(dax_setup(w, fd, 0, 2 * MiB, 0, false), 0);
	dax_set_mmap_for_test(w, fail_mmap);
	cr_assert_eq(dax_setup(w, fd, 0, 2 * MiB, 0, false), -EIO, "never ENOMEM");
	dax_set_mmap_for_test(w, NULL);
	assert_page(0, 40);	/* the old mapping is untouched: no hole */
	dax_get_stats(w, &st);
	cr_assert_eq(st.failed, 1);
	dax_reset(w);
	close(fd);
}

Test(dax, exits_past_eof_get_zero_pages_others_stop)
{
	int fd = make_file("tr", 2 * MiB, 3, O_RDWR);
	uint8_t data[8];
	struct dax_stats st;
	uint8_t b;

	cr_assert_eq(dax_setup(w, fd, 0, 2 * MiB, 4 * MiB, false), 0);
	cr_assert_eq(ftruncate(fd, 8192 + 100), 0);
	memset(data, 0, sizeof(data));	/* vm_shm_exit zeroes read data first */
	cr_assert(dax_fault(w, 4 * MiB + MiB, data, 8, false), "past EOF: resume");
	assert_page(4 * MiB + 3 * 4096, 0);
	assert_page(4 * MiB + MiB, 0);
	assert_page(4 * MiB, 3);
	cr_assert(win_read(4 * MiB + 2 * 4096, &b, 1), "the page holding EOF stays the file");
	cr_assert_eq(b, 5);
	/* Inside the file (no real exit would come, but the hook must still answer). */
	cr_assert(dax_fault(w, 4 * MiB + 4096, data, 4, false));
	cr_assert_eq(data[0], 4);
	cr_assert_not(dax_fault(w, 4 * MiB, data, 4, true), "write to a read-only mapping");
	cr_assert_not(dax_fault(w, 0, data, 4, false), "nothing mapped: stop");
	dax_get_stats(w, &st);
	cr_assert_eq(st.zero_fills, 1);
	cr_assert_eq(st.exits, 4);
	dax_reset(w);
	close(fd);
}

Test(dax, host_truncate_is_fixed_before_the_guest_gets_there)
{
	int fd = make_file("wt", 2 * MiB, 9, O_RDWR);
	struct pollfd p = { .fd = dax_watch_fd(w), .events = POLLIN };
	uint8_t page[4096];

	cr_assert_geq(p.fd, 0, "inotify available");
	cr_assert_eq(dax_setup(w, fd, 0, 2 * MiB, 0, false), 0);
	cr_assert_eq(ftruncate(fd, 4096), 0);
	cr_assert_eq(poll(&p, 1, 2000), 1, "truncation seen");
	dax_watch_event(w);
	assert_page(MiB, 0);	/* zero page, no exit needed */
	assert_page(0, 9);
	/* The file grows back with new data: the mapping shows the file again. */
	memset(page, 0xee, sizeof(page));
	cr_assert_eq(pwrite(fd, page, sizeof(page), MiB), (ssize_t)sizeof(page));
	cr_assert_eq(poll(&p, 1, 2000), 1);
	dax_watch_event(w);
	assert_page(MiB, 0xee);
	dax_reset(w);
	close(fd);
}

/* Scripted dispatcher: replies with header + the request's bytes 40.. as payload. */
static size_t echo_dispatch(void *opaque, const struct iovec *in, int in_cnt,
			    const struct iovec *out, int out_cnt)
{
	uint8_t req[8192], rep[8192];
	size_t n = 0, m = 0;
	struct fuse_out_header h = { .error = 0, .unique = 5 };

	for (int i = 0; i < in_cnt; i++) {
		memcpy(req + n, in[i].iov_base, in[i].iov_len);	/* never a window address */
		n += in[i].iov_len;
	}
	h.len = (uint32_t)(sizeof(h) + n - 40);
	memcpy(rep, &h, sizeof(h));
	memcpy(rep + sizeof(h), req + 40, n - 40);
	for (int i = 0; i < out_cnt && m < h.len; i++) {
		size_t k = out[i].iov_len < h.len - m ? out[i].iov_len : h.len - m;

		memcpy(out[i].iov_base, rep + m, k);
		m += k;
	}
	return h.len;
}

Test(dax, hostile_descriptors_into_the_window)
{
	struct guest_mem m;
	struct gmem_region ram = { .gpa = 0, .size = MiB };
	int fd = make_file("io", 2 * MiB, 20, O_RDWR);
	uint8_t hdr[40] = { 0 }, ohdr[16], buf[4096];
	struct fuse_out_header *oh = (void *)ohdr;
	struct iovec in[2], out[2];
	size_t len;

	cr_assert_eq(gmem_map(&m, &ram, 1), 0);
	cr_assert_eq(gmem_add_window(&m, 1ULL << 32, WIN, win), 0);
	cr_assert_eq(dax_setup(w, fd, 0, 2 * MiB, 0, true), 0);

	/* Payload from a mapped window page (a write whose buffer is a DAX mmap). */
	in[0] = (struct iovec){ hdr, sizeof(hdr) };
	in[1] = (struct iovec){ win + 4096, 4096 };
	out[0] = (struct iovec){ ohdr, sizeof(ohdr) };
	out[1] = (struct iovec){ buf, sizeof(buf) };
	len = dax_iov_dispatch(&m, echo_dispatch, NULL, in, 2, out, 2);
	cr_assert_eq(len, 16 + 4096);
	cr_assert_eq(buf[0], 21, "the kernel copied the window page in");

	/* Reply payload into a mapped window page (an O_DIRECT read into a DAX mmap). */
	memset(buf, 0x5a, sizeof(buf));
	in[1] = (struct iovec){ buf, sizeof(buf) };
	out[1] = (struct iovec){ win + 8192, 4096 };
	len = dax_iov_dispatch(&m, echo_dispatch, NULL, in, 2, out, 2);
	cr_assert_eq(len, 16 + 4096);
	assert_page(8192, 0x5a);

	/* Forged: payload in an unmapped part of the window -> EFAULT reply, no crash. */
	in[1] = (struct iovec){ win + 6 * MiB, 4096 };
	out[1] = (struct iovec){ buf, sizeof(buf) };
	len = dax_iov_dispatch(&m, echo_dispatch, NULL, in, 2, out, 2);
	cr_assert_eq(len, 16);
	cr_assert_eq(oh->error, -EFAULT);
	in[1] = (struct iovec){ buf, sizeof(buf) };
	out[1] = (struct iovec){ win + 6 * MiB, 4096 };
	len = dax_iov_dispatch(&m, echo_dispatch, NULL, in, 2, out, 2);
	cr_assert_eq(len, 16, "reply payload into a hole");
	cr_assert_eq(oh->error, -EFAULT);
	/* Even the headers in the window: no crash, no reply bytes. */
	out[0] = (struct iovec){ win + 6 * MiB, 16 };
	in[0] = (struct iovec){ win + 6 * MiB + 4096, 40 };
	cr_assert_eq(dax_iov_dispatch(&m, echo_dispatch, NULL, in, 2, out, 2), 0);
	/* A truncated file behind the window page: EFAULT, not SIGBUS. */
	cr_assert_eq(ftruncate(fd, 0), 0);
	in[0] = (struct iovec){ hdr, sizeof(hdr) };
	in[1] = (struct iovec){ win + MiB, 4096 };
	out[0] = (struct iovec){ ohdr, sizeof(ohdr) };
	out[1] = (struct iovec){ buf, sizeof(buf) };
	cr_assert_eq(dax_iov_dispatch(&m, echo_dispatch, NULL, in, 2, out, 2), 16);
	cr_assert_eq(oh->error, -EFAULT);
	dax_reset(w);
	gmem_unmap(&m);
	close(fd);
}

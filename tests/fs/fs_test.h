/*
 * Helpers of the file-system semantics suite (build/tests/fs-tests).
 *
 * The suite checks local-file-system behaviour inside the directory named by
 * NOOK_FS_TEST_DIR, so the same binary runs on a plain ext4/tmpfs directory (which
 * proves the tests) and on a `nook fs serve` mount (which proves the server). Every
 * test runs in its own forked process (Criterion's default) inside a fresh
 * subdirectory, so tests only ever use relative paths.
 *
 * Escape tests additionally need NOOK_FS_SHARE_SRC (host path of the shared directory,
 * whose mount is NOOK_FS_TEST_DIR) and NOOK_FS_CANARY (a directory next to it that
 * nothing may touch); they skip without them.
 */
#ifndef NOOK_TESTS_FS_FS_TEST_H
#define NOOK_TESTS_FS_FS_TEST_H

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <sys/types.h>

#define FST_NOBODY 65534

/* Criterion .init / .fini: make and enter (leave and remove) a per-test directory. */
void fst_setup(void);
void fst_teardown(void);

/* Absolute path of the current per-test directory (inside NOOK_FS_TEST_DIR). */
const char *fst_dir(void);

/* Name of the per-test directory relative to NOOK_FS_TEST_DIR. */
const char *fst_subdir(void);

/* Runs fn in a child with all ids set to nobody (65534, no supplementary groups);
 * returns what fn returned (an errno value or 0), or -1 if the child died. */
int fst_as_nobody(int (*fn)(void *arg), void *arg);

/* Writes len bytes of buf to a new file (0644); asserts on failure. */
void fst_write_file(const char *path, const void *buf, size_t len);

/* Reads up to cap bytes of path into buf; returns the count; asserts on failure. */
size_t fst_read_file(const char *path, void *buf, size_t cap);

/* Fills buf with a position-dependent pattern (seed changes the pattern). */
void fst_pattern(void *buf, size_t len, unsigned seed, off_t pos);

/* True when running against a mount (NOOK_FS_SHARE_SRC set). */
int fst_on_mount(void);

/* Asserts that expr returns -1 with errno == e. */
#define fst_assert_err(expr, e) do { \
	errno = 0; \
	long fst_rc_ = (long)(expr); \
	int fst_errno_ = errno; \
	cr_assert(fst_rc_ == -1 && fst_errno_ == (e), \
		  "%s: expected -1/%s, got %ld/%s", #expr, strerror(e), fst_rc_, \
		  strerror(fst_errno_)); \
} while (0)

/* Asserts that expr returns >= 0 and yields it. */
#define fst_ok(expr) ({ \
	errno = 0; \
	long fst_v_ = (long)(expr); \
	cr_assert(fst_v_ >= 0, "%s failed: %s", #expr, strerror(errno)); \
	fst_v_; \
})

#endif

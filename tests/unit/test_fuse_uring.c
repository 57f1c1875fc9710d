/*
 * FUSE over io_uring, guest-less: ring entries built by hand as the kernel fills them
 * (fuse_in_header in in_out, the opcode's struct in op_in, the rest in the payload),
 * answered in place by fuse_uring_answer(), the one place the ring's lengths are
 * checked.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fs/fuse_uring.h"
#include "tests/unit/fuse_test.h"

#define PAYLOAD (64u << 10)

static struct ft t;
static struct fuse_abi_uring_req_header h;
static unsigned char *payload;

static void setup(void)
{
	ft_setup(&t, "");
	payload = calloc(1, PAYLOAD);
	cr_assert_not_null(payload);
}

static void teardown(void)
{
	free(payload);
	ft_teardown(&t);
}

TestSuite(fuse_uring, .init = setup, .fini = teardown);

/* Fills the entry like the kernel: op_len bytes of op in op_in, plen of pl in payload. */
static void entry(uint32_t opcode, uint64_t nodeid, uint64_t unique, const void *op,
		  size_t op_len, const void *pl, size_t plen)
{
	struct fuse_in_header ih = {
		.len = (uint32_t)(sizeof(ih) + op_len + plen), .opcode = opcode,
		.unique = unique, .nodeid = nodeid,
	};

	memset(&h, 0, sizeof(h));
	memcpy(h.in_out, &ih, sizeof(ih));
	if (op_len)
		memcpy(h.op_in, op, op_len);
	if (plen)
		memcpy(payload, pl, plen);
	h.ring_ent_in_out.commit_id = unique;
	h.ring_ent_in_out.payload_sz = (uint32_t)plen;
}

static struct fuse_out_header reply(void)
{
	struct fuse_out_header oh;

	memcpy(&oh, h.in_out, sizeof(oh));
	return oh;
}

Test(fuse_uring, lookup_name_in_payload_entry_in_place)
{
	struct fuse_entry_out e;
	struct stat st;
	int fd = open(ft_path(&t, "a"), O_CREAT | O_WRONLY, 0644);

	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(stat(ft_path(&t, "a"), &st), 0);
	entry(FUSE_LOOKUP, FUSE_ROOT_ID, 7, NULL, 0, "a", 2);
	cr_assert_eq(fuse_uring_answer(t.s, &h, payload, PAYLOAD), 7);
	cr_assert_eq(reply().error, 0);
	cr_assert_eq(reply().unique, 7);
	cr_assert_eq(reply().len, sizeof(struct fuse_out_header) + sizeof(e));
	cr_assert_eq(h.ring_ent_in_out.payload_sz, sizeof(e));
	memcpy(&e, payload, sizeof(e));
	cr_assert_eq(e.attr.ino, st.st_ino);
	cr_assert_neq(e.nodeid, 0);
}

Test(fuse_uring, write_data_in_payload_reaches_the_file)
{
	struct fuse_entry_out e;
	struct fuse_write_in w = { 0 };
	struct fuse_write_out wo;
	char data[3000], back[3000];
	uint64_t fh;
	int fd;

	cr_assert_eq(ft_create(&t, FUSE_ROOT_ID, "w", 0644, O_RDWR, &e, &fh), 0);
	memset(data, 'q', sizeof(data));
	w.fh = fh;
	w.size = sizeof(data);
	entry(FUSE_WRITE, e.nodeid, 9, &w, sizeof(w), data, sizeof(data));
	cr_assert_eq(fuse_uring_answer(t.s, &h, payload, PAYLOAD), 9);
	cr_assert_eq(reply().error, 0);
	cr_assert_eq(h.ring_ent_in_out.payload_sz, sizeof(wo));
	memcpy(&wo, payload, sizeof(wo));
	cr_assert_eq(wo.size, sizeof(data));
	fd = open(ft_path(&t, "w"), O_RDONLY);
	cr_assert_eq(read(fd, back, sizeof(back)), (ssize_t)sizeof(back));
	close(fd);
	cr_assert_eq(memcmp(data, back, sizeof(data)), 0);
}

/* The value overwrites the name it was asked for: the server copied the name first. */
Test(fuse_uring, getxattr_reply_overwrites_its_own_name)
{
	struct fuse_entry_out e;
	struct fuse_getxattr_in g = { .size = 64 };
	uint64_t fh;

	cr_assert_eq(ft_create(&t, FUSE_ROOT_ID, "x", 0644, O_RDWR, &e, &fh), 0);
	if (setxattr(ft_path(&t, "x"), "user.key", "value", 5, 0))
		cr_skip_test("no user xattrs in %s", t.dir);
	entry(FUSE_GETXATTR, e.nodeid, 11, &g, sizeof(g), "user.key", 9);
	cr_assert_eq(fuse_uring_answer(t.s, &h, payload, PAYLOAD), 11);
	cr_assert_eq(reply().error, 0);
	cr_assert_eq(h.ring_ent_in_out.payload_sz, 5);
	cr_assert_eq(memcmp(payload, "value", 5), 0);
}

Test(fuse_uring, lengths_that_do_not_add_up_get_eio)
{
	unsigned char op[200] = { 0 };

	/* More payload than the buffer holds. */
	entry(FUSE_LOOKUP, FUSE_ROOT_ID, 21, NULL, 0, "a", 2);
	h.ring_ent_in_out.payload_sz = PAYLOAD + 1;
	cr_assert_eq(fuse_uring_answer(t.s, &h, payload, PAYLOAD), 21);
	cr_assert_eq(reply().error, -EIO);
	cr_assert_eq(reply().unique, 21);
	cr_assert_eq(h.ring_ent_in_out.payload_sz, 0);
	/* Header length shorter than the payload. */
	entry(FUSE_LOOKUP, FUSE_ROOT_ID, 22, NULL, 0, "a", 2);
	((struct fuse_in_header *)(void *)h.in_out)->len = sizeof(struct fuse_in_header) + 1;
	fuse_uring_answer(t.s, &h, payload, PAYLOAD);
	cr_assert_eq(reply().error, -EIO);
	/* An opcode struct longer than op_in. */
	entry(FUSE_GETATTR, FUSE_ROOT_ID, 23, op, 0, NULL, 0);
	((struct fuse_in_header *)(void *)h.in_out)->len = sizeof(struct fuse_in_header) + 129;
	fuse_uring_answer(t.s, &h, payload, PAYLOAD);
	cr_assert_eq(reply().error, -EIO);
	cr_assert_eq(reply().len, sizeof(struct fuse_out_header));
	/* A request the server cannot answer at all (FORGET takes no reply). */
	entry(FUSE_FORGET, FUSE_ROOT_ID, 24, op, sizeof(struct fuse_forget_in), NULL, 0);
	fuse_uring_answer(t.s, &h, payload, PAYLOAD);
	cr_assert_eq(reply().error, -EIO);
	cr_assert_eq(reply().unique, 24);
}

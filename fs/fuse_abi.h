/*
 * FUSE protocol definitions used by the server.
 *
 * Debian's <linux/fuse.h> describes protocol 7.38; the structures did not change shape
 * between 7.38 and 7.45 (fuse_init_out kept its 64 bytes, new fields use its spare
 * words), so we take the structures from it and add here only the constants of 7.39..7.45
 * that the server names. Each addition is guarded so a newer header simply wins.
 */
#ifndef NOOK_FS_FUSE_ABI_H
#define NOOK_FS_FUSE_ABI_H

#include <stdint.h>
#include <linux/fuse.h>
#include <linux/ioctl.h>

/* The protocol version this server implements. */
#define FUSE_ABI_MAJOR 7
#define FUSE_ABI_MINOR 45
/* Oldest client minor we talk to (Linux 5.10's virtio-fs speaks 7.31/7.32). */
#define FUSE_ABI_MIN_MINOR 31

/* INIT flags2 bits (shifted by 32 in the 64-bit view) added after 7.38. */
#ifndef FUSE_CREATE_SUPP_GROUP
#define FUSE_CREATE_SUPP_GROUP	(1ULL << 34)
#endif
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif
#ifndef FUSE_PASSTHROUGH
#define FUSE_PASSTHROUGH	(1ULL << 37)
#endif
#ifndef FUSE_NO_EXPORT_SUPPORT
#define FUSE_NO_EXPORT_SUPPORT	(1ULL << 38)
#endif
#ifndef FUSE_HAS_RESEND
#define FUSE_HAS_RESEND		(1ULL << 39)
#endif
#ifndef FUSE_ALLOW_IDMAP
#define FUSE_ALLOW_IDMAP	(1ULL << 40)
#endif
#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING	(1ULL << 41)
#endif
#ifndef FUSE_REQUEST_TIMEOUT
#define FUSE_REQUEST_TIMEOUT	(1ULL << 42)
#endif

/* Request extension carrying the caller's supplementary group that owns the parent
 * directory of a create (7.39, negotiated with FUSE_CREATE_SUPP_GROUP). */
#define FUSE_ABI_EXT_GROUPS 32
struct fuse_abi_supp_groups {
	uint32_t nr_groups;
	uint32_t groups[];
};

/* Opcodes added after 7.38: statx (7.39) and the 64-bit copy_file_range (7.45). */
#define FUSE_ABI_OP_STATX		52
#define FUSE_ABI_OP_COPY_FILE_RANGE_64	53
#define FUSE_ABI_OP_MAX			53

/* Reply of FUSE_COPY_FILE_RANGE_64. */
struct fuse_abi_copy_file_range_out {
	uint64_t bytes_copied;
};

/* Open reply flags (FOPEN_*) newer than some headers. */
#ifndef FOPEN_PARALLEL_DIRECT_WRITES
#define FOPEN_PARALLEL_DIRECT_WRITES (1 << 6)
#endif
#ifndef FOPEN_PASSTHROUGH
#define FOPEN_PASSTHROUGH (1 << 7)
#endif

/*
 * Passthrough (7.40): fuse_init_out.max_stack_depth is its first spare word and
 * fuse_open_out.backing_id its padding (the 7.38 header names neither). The ioctls
 * register a host file with the connection and drop it again.
 */
#define FUSE_ABI_INIT_MAX_STACK_DEPTH(out) ((out)->unused[0])
#define FUSE_ABI_OPEN_BACKING_ID(out) ((out)->padding)
struct fuse_abi_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define FUSE_ABI_DEV_IOC_BACKING_OPEN  _IOW(229, 1, struct fuse_abi_backing_map)
#define FUSE_ABI_DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

/*
 * FUSE over io_uring (7.42, Linux 6.14+ behind fuse.enable_uring). Each ring entry is
 * two buffers: this header and a payload of at least max(max_write, max_pages pages).
 * A request arrives as its fuse_in_header in in_out, its first argument (the opcode's
 * own struct, empty for some) in op_in and the rest in the payload; the reply goes back
 * as fuse_out_header in in_out and the whole reply body in the payload.
 */
#define FUSE_ABI_URING_IN_OUT_SZ 128
#define FUSE_ABI_URING_OP_IN_SZ  128
struct fuse_abi_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;   /* request id to name in the commit */
	uint32_t payload_sz;  /* bytes used in the payload buffer (both ways) */
	uint32_t padding;
	uint64_t reserved;
};
struct fuse_abi_uring_req_header {
	char in_out[FUSE_ABI_URING_IN_OUT_SZ];
	char op_in[FUSE_ABI_URING_OP_IN_SZ];
	struct fuse_abi_uring_ent_in_out ring_ent_in_out;
};
/* IORING_OP_URING_CMD cmd_op values, and the command in the SQE's 80-byte area. */
#define FUSE_ABI_URING_CMD_REGISTER         1
#define FUSE_ABI_URING_CMD_COMMIT_AND_FETCH 2
struct fuse_abi_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;         /* the queue: requests of tasks on CPU qid */
	uint8_t padding[6];
};

#endif

/*
 * libFuzzer target for the split-virtqueue walker (devices/virtq.c).
 *
 * Input: a 10-byte header, then a guest memory image copied to FUZZ_GPA. Guest RAM is two
 * adjacent 32 KiB regions so chains can cross a region boundary. Header (little-endian):
 *   u8 size_log2, u8 flags (bit0 EVENT_IDX, bit1 INDIRECT_DESC),
 *   u16 desc_off, u16 avail_off, u16 used_off (offsets from FUZZ_GPA), u16 max_iov.
 * The target sets the queue up, pops until empty or broken, pushes every chain back and
 * checks that each iovec lies inside guest RAM and that the totals add up.
 * tests/fuzz/gen_virtq_corpus.py writes the seed corpus in this format.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtq.h"
#include "vmm/log.h"

#define FUZZ_GPA   0x10000ULL
#define FUZZ_HALF  0x8000ULL
#define FUZZ_RAM   (2 * FUZZ_HALF)
#define FUZZ_HDR   10
#define FUZZ_IOV   256

static struct guest_mem mem;
static struct iovec rd[FUZZ_IOV], wr[FUZZ_IOV];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct gmem_region layout[2] = {
		{ .gpa = FUZZ_GPA, .size = FUZZ_HALF },
		{ .gpa = FUZZ_GPA + FUZZ_HALF, .size = FUZZ_HALF },
	};

	(void)argc;
	(void)argv;
	log_max_level = LOG_ERR;   /* bad chains log a warning each; keep the fuzzer quiet */
	if (gmem_map(&mem, layout, 2) < 0)
		abort();
	return 0;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void check_iov(const struct iovec *iov, uint32_t n, uint64_t total)
{
	uint64_t sum = 0;
	const uint8_t *lo = mem.map_base, *hi = lo + mem.map_len;

	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *b = iov[i].iov_base;

		if (iov[i].iov_len == 0 || b < lo || b > hi || iov[i].iov_len > (size_t)(hi - b))
			abort();
		sum += iov[i].iov_len;
	}
	if (sum != total)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq vq;
	struct virtq_config c;
	struct virtq_elem e = { .read = rd, .write = wr };
	const char *why;
	size_t img;
	int budget;

	if (size < FUZZ_HDR)
		return 0;
	c.size = (uint16_t)(1u << (data[0] % 16));
	c.max_size = 1024;
	c.event_idx = data[1] & 1;
	c.indirect = data[1] & 2;
	c.desc_gpa = FUZZ_GPA + le16(data + 2);
	c.avail_gpa = FUZZ_GPA + le16(data + 4);
	c.used_gpa = FUZZ_GPA + le16(data + 6);
	e.max_iov = le16(data + 8) % FUZZ_IOV + 1;

	img = size - FUZZ_HDR;
	if (img > FUZZ_RAM)
		img = FUZZ_RAM;
	memset(mem.map_base, 0, FUZZ_RAM);
	memcpy(mem.map_base, data + FUZZ_HDR, img);

	memset(&vq, 0, sizeof(vq));
	if (virtq_setup(&vq, &mem, &c, &why) < 0)
		return 0;
	/* The ring never holds more than size chains at once; allow a few rounds. */
	for (budget = 4 * c.size + 4; budget > 0; budget--) {
		int r = virtq_pop(&vq, &e);

		if (r <= 0) {
			if (r == 0 && virtq_enable_notify(&vq))
				continue;
			break;
		}
		if (e.head >= c.size || e.nr_read > e.max_iov || e.nr_write > e.max_iov)
			abort();
		check_iov(rd, e.nr_read, e.read_len);
		check_iov(wr, e.nr_write, e.write_len);
		/* Touch every byte as a device would (ASan checks the pointers). */
		for (uint32_t i = 0; i < e.nr_read; i++)
			(void)!memchr(rd[i].iov_base, 0x5a, rd[i].iov_len);
		for (uint32_t i = 0; i < e.nr_write; i++)
			memset(wr[i].iov_base, 0xa5, wr[i].iov_len);
		virtq_push(&vq, e.head, (uint32_t)(e.write_len > UINT32_MAX ? UINT32_MAX : e.write_len));
		(void)virtq_should_notify(&vq);
	}
	return 0;
}

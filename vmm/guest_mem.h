/*
 * Guest physical memory: the host mappings that back guest RAM.
 *
 * gmem_ptr() is the one place a guest-physical range becomes a host pointer. Every
 * guest-controlled address (descriptor tables, buffers, boot structures) goes through it,
 * and it returns NULL unless the whole range lies inside one RAM region.
 */
#ifndef NOOK_VMM_GUEST_MEM_H
#define NOOK_VMM_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GMEM_MAX_REGIONS 4

struct gmem_region {
	uint64_t gpa;   /* guest-physical start */
	uint64_t size;  /* bytes */
	uint8_t *hva;   /* host mapping of the region */
};

struct guest_mem {
	struct gmem_region regions[GMEM_MAX_REGIONS];
	int nr_regions;
	uint64_t ram_size;     /* sum of region sizes */
	void *map_base;        /* one reservation holding every region (gmem_map) */
	size_t map_len;
};

/* Host pointer for [gpa, gpa+len), or NULL if any byte lies outside guest RAM or the sum
 * overflows. len == 0 asks only that gpa itself be inside RAM. */
void *gmem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Largest len such that [gpa, gpa+len) is contiguous in host memory (0 if gpa is not RAM). */
uint64_t gmem_contig(const struct guest_mem *m, uint64_t gpa);

/* Map RAM for the given guest-physical regions (gpa/size filled, hva ignored) with
 * MAP_NORESERVE so untouched guest pages cost nothing. Returns 0 or -errno. */
int gmem_map(struct guest_mem *m, const struct gmem_region *layout, int nr);
void gmem_unmap(struct guest_mem *m);

/* Copy helpers that check bounds through gmem_ptr; return 0 or -EFAULT. */
int gmem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len);
int gmem_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len);

#endif

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
#define GMEM_MAX_WINDOWS 8

struct gmem_region {
	uint64_t gpa;   /* guest-physical start */
	uint64_t size;  /* bytes */
	uint8_t *hva;   /* host mapping of the region */
};

/*
 * A shared-memory window (virtio shm region: the DAX window, the version table): guest
 * physical memory backed by host mappings the guest or the host may change or remove
 * under us (a PROT_NONE hole, a truncated file). nook's own code must never load or
 * store through such a pointer (SIGSEGV/SIGBUS would kill the VMM); it is only handed
 * to the kernel (preadv/pwritev), which reports a bad page as EFAULT.
 */
struct gmem_window {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_mem {
	struct gmem_region regions[GMEM_MAX_REGIONS];
	int nr_regions;
	struct gmem_window windows[GMEM_MAX_WINDOWS];
	int nr_windows;		/* added before the guest runs, never removed while it does */
	uint64_t ram_size;     /* sum of region sizes */
	void *map_base;        /* one reservation holding every region (gmem_map) */
	size_t map_len;
};

/* Host pointer for [gpa, gpa+len), or NULL if any byte lies outside guest RAM or the sum
 * overflows. len == 0 asks only that gpa itself be inside RAM. */
void *gmem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Largest len such that [gpa, gpa+len) is contiguous in host memory (0 if gpa is not RAM). */
uint64_t gmem_contig(const struct guest_mem *m, uint64_t gpa);

/* Host address for [gpa, gpa+len) if it lies entirely inside one shared-memory window,
 * else NULL (same overflow-safe checks as gmem_ptr; len 0 is refused). Only for
 * kernel-mediated I/O (see struct gmem_window): never dereference it. */
void *gmem_window_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Largest len such that [gpa, gpa+len) stays inside one window (0 if gpa is in none). */
uint64_t gmem_window_contig(const struct guest_mem *m, uint64_t gpa);

/* True if host range [p, p+len) lies inside one window's host mapping. */
bool gmem_hva_in_window(const struct guest_mem *m, const void *p, size_t len);

/* Records a window (it must not overlap RAM or another window). 0, -EINVAL or -ENOSPC. */
int gmem_add_window(struct guest_mem *m, uint64_t gpa, uint64_t size, void *hva);

/* Map RAM for the given guest-physical regions (gpa/size filled, hva ignored) with
 * MAP_NORESERVE so untouched guest pages cost nothing. Returns 0 or -errno. */
int gmem_map(struct guest_mem *m, const struct gmem_region *layout, int nr);
/* Unmaps RAM and forgets the windows (their owners unmap them). */
void gmem_unmap(struct guest_mem *m);

/* Copy helpers that check bounds through gmem_ptr; return 0 or -EFAULT. */
int gmem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len);
int gmem_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len);

#endif

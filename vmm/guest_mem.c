#include "vmm/guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

void *gmem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < m->nr_regions; i++) {
		const struct gmem_region *r = &m->regions[i];
		uint64_t off;

		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		off = gpa - r->gpa;
		/* off < size, so size - off cannot underflow; compare instead of adding. */
		if (len > r->size - off)
			return NULL;
		return r->hva + off;
	}
	return NULL;
}

uint64_t gmem_contig(const struct guest_mem *m, uint64_t gpa)
{
	for (int i = 0; i < m->nr_regions; i++) {
		const struct gmem_region *r = &m->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r->size - (gpa - r->gpa);
	}
	return 0;
}

void *gmem_window_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < m->nr_windows; i++) {
		const struct gmem_window *w = &m->windows[i];

		if (gpa < w->gpa || gpa - w->gpa >= w->size)
			continue;
		if (len == 0 || len > w->size - (gpa - w->gpa))
			return NULL;
		return w->hva + (gpa - w->gpa);
	}
	return NULL;
}

uint64_t gmem_window_contig(const struct guest_mem *m, uint64_t gpa)
{
	for (int i = 0; i < m->nr_windows; i++) {
		const struct gmem_window *w = &m->windows[i];

		if (gpa >= w->gpa && gpa - w->gpa < w->size)
			return w->size - (gpa - w->gpa);
	}
	return 0;
}

bool gmem_hva_in_window(const struct guest_mem *m, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;

	for (int i = 0; i < m->nr_windows; i++) {
		uintptr_t b = (uintptr_t)m->windows[i].hva;

		if (a >= b && a - b < m->windows[i].size && len <= m->windows[i].size - (a - b))
			return true;
	}
	return false;
}

/* True if [a, a+alen) and [b, b+blen) share a byte (sizes > 0, no wrap-around). */
static bool gmem_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int gmem_add_window(struct guest_mem *m, uint64_t gpa, uint64_t size, void *hva)
{
	if (size == 0 || gpa > UINT64_MAX - size || !hva)
		return -EINVAL;
	for (int i = 0; i < m->nr_regions; i++)
		if (gmem_overlap(gpa, size, m->regions[i].gpa, m->regions[i].size))
			return -EINVAL;
	for (int i = 0; i < m->nr_windows; i++)
		if (gmem_overlap(gpa, size, m->windows[i].gpa, m->windows[i].size))
			return -EINVAL;
	if (m->nr_windows >= GMEM_MAX_WINDOWS)
		return -ENOSPC;
	m->windows[m->nr_windows++] = (struct gmem_window){ gpa, size, hva };
	return 0;
}

int gmem_map(struct guest_mem *m, const struct gmem_region *layout, int nr)
{
	size_t total = 0;
	uint8_t *base;

	if (nr <= 0 || nr > GMEM_MAX_REGIONS)
		return -EINVAL;
	for (int i = 0; i < nr; i++) {
		if (layout[i].size == 0 || layout[i].size > SIZE_MAX - total)
			return -EINVAL;
		total += layout[i].size;
	}
	base = mmap(NULL, total, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	memset(m, 0, sizeof(*m));
	m->map_base = base;
	m->map_len = total;
	for (int i = 0; i < nr; i++) {
		m->regions[i] = layout[i];
		m->regions[i].hva = base;
		base += layout[i].size;
		m->ram_size += layout[i].size;
	}
	m->nr_regions = nr;
	return 0;
}

void gmem_unmap(struct guest_mem *m)
{
	if (m->map_base)
		munmap(m->map_base, m->map_len);
	memset(m, 0, sizeof(*m));
}

int gmem_read(const struct guest_mem *m, uint64_t gpa, void *dst, size_t len)
{
	const void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gmem_write(const struct guest_mem *m, uint64_t gpa, const void *src, size_t len)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

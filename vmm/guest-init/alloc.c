/*
 * malloc for the built-in guest init: a bump allocator over a .bss array, replacing
 * glibc's (the glibc manual's "Replacing malloc" for static links: malloc, free,
 * calloc and realloc).
 *
 * The init itself never allocates; only glibc's static start-up does (~2 KB for its
 * library search paths). glibc's malloc would spend four system calls on that
 * (getrandom for its tcache key, three brk) - several ms where guest kernel mode is
 * emulated - and 25 KB of code. free() keeps nothing: there is nothing to reuse.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#define ALLOC_ALIGN	16	/* malloc's guarantee on x86_64 */

/* Untouched pages cost nothing, so the size is generous. */
static char heap[64 << 10] __attribute__((aligned(ALLOC_ALIGN)));
static size_t heap_used;

/* Each block is preceded by ALLOC_ALIGN bytes holding its size, for realloc. */
void *malloc(size_t n)
{
	size_t need;
	char *p;

	if (n > sizeof(heap) - ALLOC_ALIGN) {
		errno = ENOMEM;
		return NULL;
	}
	need = ((n + ALLOC_ALIGN - 1) & ~(size_t)(ALLOC_ALIGN - 1)) + ALLOC_ALIGN;
	if (need > sizeof(heap) - heap_used) {
		errno = ENOMEM;
		return NULL;
	}
	p = heap + heap_used;
	heap_used += need;
	*(size_t *)p = n;
	return p + ALLOC_ALIGN;
}

void free(void *p)
{
	(void)p;
}

/* Fresh .bss is zero and nothing is reused, but a cleared block costs no call. */
void *calloc(size_t count, size_t size)
{
	size_t n;
	void *p;

	if (__builtin_mul_overflow(count, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	p = malloc(n);
	if (p)
		memset(p, 0, n);
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p = malloc(n);

	if (p && old) {
		size_t old_n = *(size_t *)((char *)old - ALLOC_ALIGN);

		memcpy(p, old, old_n < n ? old_n : n);
	}
	return p;
}

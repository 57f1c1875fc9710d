/* struct dax_window itself: shared by fs/dax.c (mappings) and fs/dax_watch.c (host
 * truncation). */
#ifndef NOOK_FS_DAX_INTERNAL_H
#define NOOK_FS_DAX_INTERNAL_H

#include <pthread.h>

#include "fs/dax.h"

#define DAX_PAGE 4096ULL

/* A host file with live mappings (keyed by dev/ino; one inotify watch each). */
struct dax_file {
	uint64_t dev, ino;
	int fd;		/* read-only or read-write dup of the first SETUPMAPPING's fd */
	int fd_rw;	/* read-write dup once a writable mapping came, else -1 */
	int wd;		/* inotify watch, -1 if none */
	uint32_t refs;	/* mapping records using it */
};

/* One mapped range. Window offsets [zero_from, moff+len) hold zero pages instead of the
 * file (its end moved below them); zero_from == moff + len when there are none. */
struct dax_map {
	uint64_t moff, len, foff;
	uint64_t zero_from;
	struct dax_file *file;
	bool writable;
};

struct dax_window {
	pthread_mutex_t lock;
	uint8_t *hva;
	uint64_t size;
	struct dax_map *maps;
	size_t nr_maps, cap_maps;
	struct dax_file **files;
	size_t nr_files, cap_files;
	int inotify_fd;
	dax_mmap_fn *mmap_fn;
	struct dax_stats st;
	bool warned_shrink;
};

/* fs/dax.c, lock held: brings m's zero tail in line with the file's size (zero pages
 * past its end, the file again where it grew back). */
void dax_map_fit_locked(struct dax_window *w, struct dax_map *m, uint64_t file_size);

/* fs/dax_watch.c, lock held. */
int dax_watch_init(struct dax_window *w);
void dax_watch_add_locked(struct dax_window *w, struct dax_file *f);
void dax_watch_del_locked(struct dax_window *w, struct dax_file *f);

#endif

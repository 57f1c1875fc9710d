/*
 * Changes by other host processes (issue 12): one fanotify thread per table and
 * process, watching the whole file system under the export root (FAN_MARK_FILESYSTEM,
 * FID + DFID_NAME + TARGET reports). Each event's objects are reopened by handle and
 * stat'ed to find their slots, which it bumps as a server would; what it cannot place
 * (a queue overflow, a vanished object with no known parent) bumps the epoch, which
 * makes every guest refresh everything once. Events our own process caused are skipped:
 * our servers bumped before replying.
 *
 * Needs CAP_SYS_ADMIN (file system marks) and CAP_DAC_READ_SEARCH (open_by_handle_at).
 * Blind spots: stores through shared mmaps (no event), submounts below the share (another
 * file system), and network or FUSE file systems changed by other clients.
 */
#ifndef NOOK_FS_VTAB_WATCH_H
#define NOOK_FS_VTAB_WATCH_H

#include <stddef.h>
#include <stdint.h>

struct vtab;
struct vtab_watch;

/* Starts the thread for the tree rooted at root_fd (any fd of it; not kept). NULL with
 * one line in err when fanotify is not available to us (errno EPERM: no capability). */
struct vtab_watch *vtab_watch_start(struct vtab *vt, int root_fd, char *err, size_t errlen);
void vtab_watch_stop(struct vtab_watch *w);

/* Handles a buffer of fanotify events as read(2) returns them, checking every length
 * (the thread's loop body; tests feed it hand-made events). */
void vtab_watch_parse(struct vtab_watch *w, const void *buf, size_t len);

/* Events seen so far (tests, statistics). */
uint64_t vtab_watch_events(const struct vtab_watch *w);

#endif

/* Test-only misbehaviour of a confined thread, see vmm/test_hook.h. */
#ifdef NOOK_TEST_HOOKS
#include "vmm/test_hook.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "vmm/seccomp.h"

static int hook_tried, hook_escaped;

/* One attempt: ok means it got out. */
static void hook_report(const char *what, bool ok)
{
	hook_tried++;
	hook_escaped += ok;
	if (ok)
		fprintf(stderr, "nook-test: escape %s: ESCAPED\n", what);
	else
		fprintf(stderr, "nook-test: escape %s: refused (%s)\n", what, strerror(errno));
}

static void hook_escape(void)
{
	static const char secret[] = "/etc/passwd";
	struct file_handle *fh = malloc(sizeof(*fh) + 128);
	char name[64];
	int fd, mnt, own = getpid(), others = 0;
	DIR *d;
	struct dirent *e;

	fd = open(secret, O_RDONLY | O_CLOEXEC);
	hook_report("absolute path", fd >= 0);
	close(fd);
	/* Every directory fd we hold (the shares among them): ".." up to the top. */
	for (int i = 3; i < 256; i++) {
		struct stat st;
		int up, f;

		if (fstat(i, &st) || !S_ISDIR(st.st_mode))
			continue;
		up = openat(i, "../../../../../../../../..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		f = up >= 0 ? openat(up, secret + 1, O_RDONLY | O_CLOEXEC) : -1;
		snprintf(name, sizeof(name), "openat(fd %d, \"..\")", i);
		hook_report(name, f >= 0);
		close(f);
		close(up);
		/* A host file's handle, opened against this directory's mount. */
		fh->handle_bytes = 128;
		f = -1;
		/* open_by_handle_at wants a real open (our fds are O_PATH): the directory
		 * itself reopens, it is beneath a share. */
		int real = openat(i, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (real >= 0 && !name_to_handle_at(AT_FDCWD, secret, fh, &mnt, 0))
			f = open_by_handle_at(real, fh, O_RDONLY | O_CLOEXEC);
		if (real >= 0)
			close(real);
		snprintf(name, sizeof(name), "open_by_handle_at(fd %d)", i);
		hook_report(name, f >= 0);
		close(f);
	}
	free(fh);
	d = opendir("/proc");
	while (d && (e = readdir(d)))
		others += atoi(e->d_name) > 0 && atoi(e->d_name) != own;
	if (d)
		closedir(d);
	hook_report("other processes in /proc", others > 0);
	{
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(80),
					  .sin_addr.s_addr = htonl(0x08080808) };
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		hook_report("AF_INET connect",
			    s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
		close(s);
	}
	fprintf(stderr, "nook-test: escape: %d tried, %d escaped\n", hook_tried, hook_escaped);
}

void test_hook_thread(int kind)
{
	const char *h = getenv("NOOK_TEST_HOOK"), *colon;
	const char *name = seccomp_thread_name((enum thread_kind)kind);

	if (!h || !(colon = strchr(h, ':')) || strlen(name) != (size_t)(colon - h) ||
	    strncmp(h, name, (size_t)(colon - h)))
		return;
	if (!strcmp(colon + 1, "syscall"))
		syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
	else if (!strcmp(colon + 1, "escape"))
		hook_escape();
}
#else
/* ISO C wants a translation unit to hold something. */
typedef int test_hook_unused;
#endif

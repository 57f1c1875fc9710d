#include "vmm/oci/oci_ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int oci_ctl_connect(const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/ctl.sock", dir) >=
	    sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int oci_ctl_send(int fd, uint8_t type, uint8_t arg, uint32_t id, const void *payload,
		 size_t len)
{
	uint8_t buf[RUN_CTL_HDR_SIZE + RUN_CTL_MAX_PAYLOAD];
	size_t n, off = 0;

	if (len > RUN_CTL_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	n = run_ctl_encode(buf, type, arg, id, payload, len);
	while (off < n) {
		ssize_t w = send(fd, buf + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

static int read_full(int fd, uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = read(fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

int oci_ctl_recv(int fd, struct run_ctl_frame *f, uint8_t *buf)
{
	uint8_t hdr[RUN_CTL_HDR_SIZE];

	if (read_full(fd, hdr, sizeof(hdr)))
		return -1;
	if (run_ctl_check(hdr, RUN_CTL_FROM_VMM, f))
		return -2;
	if (f->len && read_full(fd, buf, f->len))
		return -1;
	buf[f->len] = 0;
	f->payload = buf;
	return 0;
}

int oci_pty_open(int *master, int *slave)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	char *name;

	if (m < 0)
		return -1;
	if (grantpt(m) || unlockpt(m) || !(name = ptsname(m))) {
		close(m);
		return -1;
	}
	*slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0) {
		close(m);
		return -1;
	}
	*master = m;
	return 0;
}

int oci_send_console(const char *path, int fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char body[] = "/dev/ptmx";
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = body, .iov_len = sizeof(body) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	int s, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
		r = errno;
		close(s);
		errno = r;
		return -1;
	}
	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	r = sendmsg(s, &msg, MSG_NOSIGNAL) < 0 ? -1 : 0;
	close(s);
	return r;
}

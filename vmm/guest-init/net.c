/*
 * The guest's network: loopback only, brought up before the command runs, so
 * `--network none` containers (and every other, see README) have a working 127.0.0.1.
 * The guest has no network device yet; the spec's network namespace is not joined.
 */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmm/guest-init/init.h"

void net_loopback_up(void)
{
#ifndef RUN_INIT_HOST_TEST
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		problem(errno, "no loopback: socket", NULL);
		return;
	}
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	/* The kernel assigns 127.0.0.1/8 to lo itself when it comes up. */
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) || (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr)))
		problem(errno, "cannot bring loopback up", NULL);
	else
		step("loopback up", NULL);
	close(fd);
#else
	step("[host test] loopback up (skipped)", NULL);
#endif
}

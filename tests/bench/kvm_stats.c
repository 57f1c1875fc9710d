/*
 * kvm_stats PID NAME...: print the named KVM statistics of the VM run by process PID,
 * summed over its VM and vCPU file descriptors, on one line (in argument order; "-" when
 * a statistic does not exist).
 *
 * Used by guest_fs_bench.sh to count exits around each phase. debugfs
 * (/sys/kernel/debug/kvm/PID-FD/) would be simpler but is unreadable under kernel
 * lockdown (its stats files are writable, lockdown refuses to open them); the binary
 * stats interface is not restricted: borrow the VMM's kvm-vm / kvm-vcpu descriptors with
 * pidfd_getfd() (needs ptrace rights over PID, e.g. root) and read KVM_GET_STATS_FD.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_NAMES 16

static int nnames;
static char **names;
static uint64_t sums[MAX_NAMES];
static int found[MAX_NAMES];

/* Add the wanted statistics of one KVM object (VM or vCPU) to sums[]. */
static int stats_add(int kfd)
{
	struct kvm_stats_header h;
	int sfd = ioctl(kfd, KVM_GET_STATS_FD, NULL);
	size_t dsize;
	char *descs = NULL;

	if (sfd < 0)
		return -1;
	if (pread(sfd, &h, sizeof(h), 0) != sizeof(h))
		goto fail;
	dsize = sizeof(struct kvm_stats_desc) + h.name_size;
	descs = malloc(dsize * h.num_desc);
	if (!descs || pread(sfd, descs, dsize * h.num_desc, h.desc_offset) !=
	    (ssize_t)(dsize * h.num_desc))
		goto fail;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		struct kvm_stats_desc *d = (struct kvm_stats_desc *)(descs + i * dsize);
		uint64_t v;

		for (int n = 0; n < nnames; n++) {
			if (strncmp(d->name, names[n], h.name_size))
				continue;
			if (pread(sfd, &v, sizeof(v), h.data_offset + d->offset) != sizeof(v))
				goto fail;
			sums[n] += v;
			found[n] = 1;
		}
	}
	free(descs);
	close(sfd);
	return 0;
fail:
	free(descs);
	close(sfd);
	return -1;
}

int main(int argc, char **argv)
{
	char dir[64], link[PATH_MAX], lpath[PATH_MAX + 64];
	struct dirent *e;
	int pidfd, pid;
	DIR *d;

	if (argc < 3 || argc - 2 > MAX_NAMES) {
		fprintf(stderr, "usage: kvm_stats PID NAME... (at most %d names)\n", MAX_NAMES);
		return 2;
	}
	pid = atoi(argv[1]);
	names = argv + 2;
	nnames = argc - 2;
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		fprintf(stderr, "kvm_stats: pidfd_open %d: %s\n", pid, strerror(errno));
		return 1;
	}
	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "kvm_stats: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	while ((e = readdir(d))) {
		ssize_t n;
		int fd;

		snprintf(lpath, sizeof(lpath), "%s/%s", dir, e->d_name);
		n = readlink(lpath, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		/* The VM holds VM-wide counters, each vCPU its own exits/injections. */
		if (strcmp(link, "anon_inode:kvm-vm") && strncmp(link, "anon_inode:kvm-vcpu", 19))
			continue;
		fd = syscall(SYS_pidfd_getfd, pidfd, atoi(e->d_name), 0);
		if (fd < 0) {
			fprintf(stderr, "kvm_stats: pidfd_getfd: %s\n", strerror(errno));
			return 1;
		}
		if (stats_add(fd))
			fprintf(stderr, "kvm_stats: no binary stats on %s\n", link);
		close(fd);
	}
	closedir(d);
	for (int n = 0; n < nnames; n++) {
		if (found[n])
			printf("%s%llu", n ? " " : "", (unsigned long long)sums[n]);
		else
			printf("%s-", n ? " " : "");
	}
	printf("\n");
	return 0;
}

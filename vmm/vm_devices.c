/*
 * Devices the command line asks for beyond the legacy set: one virtio-fs device per
 * --fs share, one more for --root (or --host-root), and for a command run one per
 * --rwdir/--rodir (plus kernel modules) and the stdio console (vmm/run_mode.c). Each
 * share has its own FUSE server (own inode table and options) behind its own
 * virtio-mmio transport, so shares never see each other's node ids and a reset of one
 * leaves the others alone.
 */
#include "vmm/vm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/virtio_mmio.h"
#include "fs/dax.h"
#include "fs/fs_spec.h"
#include "fs/fuse_server.h"
#include "fs/virtio_fs.h"
#include "vmm/log.h"
#include "vmm/run_mode.h"
#include "vmm/run_request.h"
#include "vmm/vm_vtab.h"

/* The tag --root's share gets; the guest finds it through root=TAG. */
#define VM_ROOT_TAG "nook-root"

struct vm_fs_share {
	struct fuse_server *srv;
	struct virtio_fs *fs;
	struct virtio_mmio *transport;
	struct dax_window *dax;	/* dax=SIZE: the share's window */
};

static int vm_virtio_ioeventfd(void *ctx, uint64_t addr, uint32_t len, uint64_t datamatch,
			       int fd)
{
	return vm_add_ioeventfd(ctx, addr, len, datamatch, fd);
}

int vm_add_virtio(struct vm *vm, const struct virtio_dev_ops *ops, void *dev, const char *what,
		  struct virtio_mmio **out)
{
	struct virtio_mmio_host host;
	uint64_t base;
	uint32_t gsi;
	int r;

	*out = NULL;
	if (vm_alloc_virtio_slot(vm, &base, &gsi)) {
		log_err("%s: no free virtio-mmio slot (too many devices)", what);
		return -1;
	}
	host = (struct virtio_mmio_host){
		.ctx = vm, .mem = vm_mem(vm), .base = base, .add_ioeventfd = vm_virtio_ioeventfd,
	};
	*out = virtio_mmio_create(&host, ops, dev);
	if (!*out) {
		log_err("%s: cannot create the virtio-mmio transport", what);
		return -1;
	}
	r = vm_add_irqfd(vm, gsi, virtio_mmio_irq_fd(*out));
	if (!r)
		r = vm_register_mmio(vm, base, VIRTIO_MMIO_WINDOW, &virtio_mmio_bus_ops, *out, what);
	if (r) {
		log_err("%s: cannot wire the device: %s", what, strerror(-r));
		return -1;
	}
	log_info("%s at 0x%llx gsi %u", what, (unsigned long long)base, gsi);
	return 0;
}

/* Runs after the vCPUs stopped: transport first (it resets the device and stops its
 * queue threads), then the device's worker pool, then the server. */
static void vm_fs_teardown(void *opaque)
{
	struct vm_fs_share *sh = opaque;

	if (sh->transport)
		virtio_mmio_destroy(sh->transport);
	if (sh->fs)
		virtio_fs_destroy(sh->fs);
	dax_window_free(sh->dax);	/* no request can reach it any more */
	if (sh->srv)
		fuse_server_free(sh->srv);
	free(sh);
}

/* A guest access the window's host mapping could not back (vCPU thread). */
static bool vm_fs_dax_fault(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	struct vm_fs_share *sh = opaque;

	return dax_fault(sh->dax, off, data, len, is_write);
}

static void vm_fs_dax_watch(int fd, uint32_t events, void *opaque)
{
	dax_watch_event(opaque);
}

/* Each mapped 2 MiB range is a host VMA, and so may be each hole between them: warn
 * when a full window could exceed vm.max_map_count (mappings would then fail with EIO). */
static void vm_fs_check_map_count(const struct fs_spec *spec)
{
	unsigned long max = 0, need = (unsigned long)(spec->dax_size >> 21) * 2 + 4096;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");

	if (f && fscanf(f, "%lu", &max) == 1 && max < need)
		log_warn("--fs %s: a full dax=%lluM window may need %lu mappings, more than "
			 "vm.max_map_count (%lu): mappings past it fail with EIO in the guest",
			 spec->opts.source, (unsigned long long)(spec->dax_size >> 20), need, max);
	if (f)
		fclose(f);
}

/* dax=SIZE: a window as shm region 0, SETUP/REMOVEMAPPING wired to it. 0 or -1 (logged). */
static int vm_fs_add_dax(struct vm *vm, struct vm_fs_share *sh, const struct fs_spec *spec,
			 const char *what)
{
	struct vm_shm shm;
	char err[256];

	if (fs_spec_check_dax(spec, vm_mem(vm)->ram_size, err, sizeof(err))) {
		log_err("--fs %s: %s", spec->opts.source, err);
		return -1;
	}
	vm_fs_check_map_count(spec);
	if (vm_alloc_shm(vm, spec->dax_size, 0, vm_fs_dax_fault, sh, what, &shm))
		return -1;
	sh->dax = dax_window_new(shm.hva, shm.size, err, sizeof(err));
	if (!sh->dax || virtio_fs_set_shm_region(sh->fs, VIRTIO_FS_SHM_DAX, shm.gpa, shm.size)) {
		log_err("--fs %s: DAX window: %s", spec->opts.source, sh->dax ? "bad region" : err);
		return -1;
	}
	fuse_server_set_dax(sh->srv, &dax_window_ops, sh->dax);
	fuse_server_set_dax_min(sh->srv, spec->dax_min);
	if (dax_watch_fd(sh->dax) >= 0 &&
	    vm_add_event(vm, dax_watch_fd(sh->dax), vm_fs_dax_watch, sh->dax))
		log_warn("%s: host truncations are only caught at the guest's access", what);
	return 0;
}

/* Creates one share; *srv_out (may be NULL) gets its server. */
static int vm_fs_add(struct vm *vm, const struct fs_spec *spec, struct fuse_server **srv_out)
{
	struct vm_fs_share *sh = calloc(1, sizeof(*sh));
	char err[256], what[FS_SPEC_TAG_MAX + 32];
	int threads;

	if (!sh || vm_at_teardown(vm, vm_fs_teardown, sh)) {
		free(sh);
		log_err("--fs %s: out of memory or too many devices", spec->opts.source);
		return -1;
	}
	sh->srv = fuse_server_new(&spec->opts, err, sizeof(err));
	if (!sh->srv) {
		log_err("--fs %s: %s", spec->opts.source, err);
		return -1;
	}
	/* threads=0 (default) serves requests on the queue thread. With locks on, a SETLKW
	 * may wait as long as another holder likes: keep such requests on a pool. */
	threads = spec->opts.threads ? spec->opts.threads : spec->opts.flock ? 2 : 0;
	sh->fs = virtio_fs_create(spec->tag, sh->srv, 1, threads, err, sizeof(err));
	if (!sh->fs) {
		log_err("--fs %s: %s", spec->opts.source, err);
		return -1;
	}
	snprintf(what, sizeof(what), "virtio-fs '%.*s'", FS_SPEC_TAG_MAX, spec->tag);
	if (spec->dax_size && vm_fs_add_dax(vm, sh, spec, what))
		return -1;
	if (vm_fs_add_vtab(vm, sh->srv, sh->fs, what))
		return -1;
	if (vm_add_virtio(vm, &virtio_fs_dev_ops, sh->fs, what, &sh->transport))
		return -1;
	log_info("virtio-fs '%s' -> %s%s", spec->tag, spec->opts.source,
		 spec->opts.readonly ? " (read-only)" : "");
	if (srv_out)
		*srv_out = sh->srv;
	return 0;
}

/* A command run's extra shares: --rwdir/--rodir at their own paths, kernel modules. */
static int vm_run_specs(struct vm *vm, const struct vm_config *cfg, struct fs_spec *specs)
{
	const struct run_plan *p = run_get_plan(vm);
	char spec[CONFIG_PATH_MAX + 64], err[512];
	int n = 0;

	for (int i = 0; i < p->nr_mounts; i++, n++) {
		snprintf(spec, sizeof(spec), "%s,tag=%s%s", p->mounts[i].path, p->mounts[i].tag,
			 p->mounts[i].rw ? "" : ",ro");
		if (fs_spec_parse(spec, &specs[n], err, sizeof(err))) {
			log_err("--%s %s: %s", p->mounts[i].rw ? "rwdir" : "rodir",
				p->mounts[i].path, err);
			return -1;
		}
	}
	if (p->modules_tag[0]) {
		snprintf(spec, sizeof(spec), "%s,tag=%s,ro", p->modules_dir, p->modules_tag);
		if (fs_spec_parse(spec, &specs[n], err, sizeof(err))) {
			log_err("--modules %s: %s", p->modules_dir, err);
			return -1;
		}
		n++;
	}
	return n;
}

int vm_setup_devices(struct vm *vm, const struct vm_config *cfg)
{
	struct fs_spec specs[CONFIG_MAX_FS + RUN_MAX_DIRS + 2];
	struct fuse_server *root_srv = NULL;
	int n = 0;
	char err[512];

	if (cfg->root || cfg->run.host_root) {
		char spec[CONFIG_PATH_MAX + 64], root[CONFIG_PATH_MAX + 8];

		/* --root PATH[,options]: the same spec as --fs, with a fixed tag. */
		snprintf(spec, sizeof(spec), "%s,tag=" VM_ROOT_TAG,
			 run_root_spec(cfg, root, sizeof(root)));
		if (fs_spec_parse(spec, &specs[n], err, sizeof(err))) {
			log_err("--root %s: %s", root, err);
			return -1;
		}
		n++;
	}
	if (cfg->run.active) {
		int extra = vm_run_specs(vm, cfg, specs + n);

		if (extra < 0)
			return -1;
		n += extra;
	}
	for (int i = 0; i < cfg->nr_fs; i++, n++) {
		if (fs_spec_parse(cfg->fs_specs[i], &specs[n], err, sizeof(err))) {
			log_err("--fs %s: %s", cfg->fs_specs[i], err);
			return -1;
		}
		for (int j = 0; j < n; j++) {
			if (!strcmp(specs[j].tag, specs[n].tag)) {
				log_err("--fs %s: tag '%s' is already used by %s", cfg->fs_specs[i],
					specs[n].tag, specs[j].opts.source);
				return -1;
			}
		}
	}
	for (int i = 0; i < n; i++)
		if (vm_fs_add(vm, &specs[i], i == 0 ? &root_srv : NULL))
			return -1;
	if ((cfg->root || cfg->run.host_root) &&
	    vm_cmdline_add(vm, "root=" VM_ROOT_TAG " rootfstype=virtiofs rw")) {
		log_err("--root: guest command line too long");
		return -1;
	}
	if (cfg->run.active)
		return run_attach(vm, root_srv);
	return 0;
}

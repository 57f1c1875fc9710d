#include "vmm/vm.h"

#include "vmm/log.h"

/* Devices beyond the legacy set are wired here by the integration (virtio-fs for --fs and
 * --root). Until then such requests are refused rather than silently ignored. */
int vm_setup_devices(struct vm *vm, const struct vm_config *cfg)
{
	if (cfg->nr_fs || cfg->root) {
		log_err("--fs/--root: virtio-fs is not built into this nook");
		return -1;
	}
	return 0;
}

#include "vmm/bus.h"

#include <errno.h>
#include <string.h>

int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, const char *name)
{
	if (len == 0 || base + len < base)
		return -EINVAL;
	if (b->nr >= BUS_MAX_DEVS)
		return -ENOSPC;
	for (int i = 0; i < b->nr; i++) {
		const struct bus_dev *d = &b->devs[i];

		if (base < d->base + d->len && d->base < base + len)
			return -EEXIST;
	}
	b->devs[b->nr++] = (struct bus_dev){ base, len, ops, opaque, name };
	return 0;
}

const struct bus_dev *bus_find(const struct bus *b, uint64_t addr, uint32_t len)
{
	for (int i = 0; i < b->nr; i++) {
		const struct bus_dev *d = &b->devs[i];

		if (addr >= d->base && addr - d->base < d->len && len <= d->len - (addr - d->base))
			return d;
	}
	return NULL;
}

bool bus_access(const struct bus *b, uint64_t addr, void *data, uint32_t len, bool is_write)
{
	const struct bus_dev *d = bus_find(b, addr, len);

	if (!d) {
		if (!is_write)
			memset(data, 0xff, len);
		return false;
	}
	if (is_write) {
		if (d->ops->write)
			d->ops->write(d->opaque, addr - d->base, data, len);
	} else if (d->ops->read) {
		d->ops->read(d->opaque, addr - d->base, data, len);
	} else {
		memset(data, 0, len);
	}
	return true;
}

/* Port I/O and MMIO dispatch.  Ranges are registered while the machine is
 * built (vCPUs not yet running) and only read afterwards, so lookups need
 * no lock; each device serialises its own registers. */
#include <inttypes.h>
#include <string.h>

#include "hyve/bus.h"

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_handler fn,
		 void *opaque, const char *owner, struct hyve_err *err)
{
	unsigned pos = 0;

	if (len == 0 || base + len < base)
		return err_set(err, EINVAL, "%s: %s: bad range 0x%" PRIx64 "+0x%" PRIx64,
			       bus->name, owner, base, len);
	if (bus->nr == BUS_MAX_RANGES)
		return err_set(err, ENOSPC, "%s: no room for %s", bus->name, owner);
	for (unsigned i = 0; i < bus->nr; i++) {
		const struct bus_range *r = &bus->ranges[i];

		if (base < r->base + r->len && r->base < base + len)
			return err_set(err, EEXIST,
				       "%s: %s at 0x%" PRIx64 " overlaps %s at 0x%" PRIx64,
				       bus->name, owner, base, r->owner, r->base);
		if (r->base < base)
			pos = i + 1;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos], (bus->nr - pos) * sizeof(bus->ranges[0]));
	bus->ranges[pos] = (struct bus_range){ base, len, fn, opaque, owner };
	bus->nr++;
	return 0;
}

static const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->nr;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_access(const struct bus *bus, uint64_t addr, uint8_t *data, unsigned len, bool is_write)
{
	const struct bus_range *r = bus_find(bus, addr);
	uint64_t off;

	if (!is_write)
		memset(data, 0xff, len);
	if (!r)
		return false;
	off = addr - r->base;
	/* An access running past the end of a device is clipped: the device
	 * sees only the bytes that fall inside its range. */
	if (len > r->len - off)
		len = (unsigned)(r->len - off);
	r->fn(r->opaque, off, data, len, is_write);
	return true;
}

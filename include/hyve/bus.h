/* The I/O bus: port I/O and MMIO exits are dispatched to the device that
 * registered the address range.  Lookups are lock-free reads of a table
 * that only changes while vCPUs are not running (machine setup). */
#ifndef HYVE_BUS_H
#define HYVE_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "hyve/err.h"

/* `offset` is relative to the registered base; `data` holds `len` bytes
 * (1, 2, 4 or 8) in guest (little-endian) order.  On a read the handler
 * fills data; the bus pre-fills it with 0xff. */
typedef void (*bus_handler)(void *opaque, uint64_t offset, uint8_t *data,
			    unsigned len, bool is_write);

struct bus_range {
	uint64_t base, len;
	bus_handler fn;
	void *opaque;
	const char *owner; /* for messages */
};

#define BUS_MAX_RANGES 128

struct bus {
	const char *name;  /* "pio" or "mmio" */
	unsigned nr;
	struct bus_range ranges[BUS_MAX_RANGES]; /* sorted by base */
};

void bus_init(struct bus *bus, const char *name);
/* Fails (EEXIST) on overlap with an existing range, naming both owners. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_handler fn,
		 void *opaque, const char *owner, struct hyve_err *err);
/* Returns false when nothing claims addr (reads then see all ones, writes
 * are dropped). An access straddling the end of a range is clipped to it. */
bool bus_access(const struct bus *bus, uint64_t addr, uint8_t *data,
		unsigned len, bool is_write);

#endif

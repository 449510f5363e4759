/* What the device models emulated in hyve need from the machine: the guest
 * clock, interrupt lines, timers, the exit request, the PIT's HPET-legacy
 * flag, fd watches on the main loop, and the ACPI sleeping states.  They reach all of it through this
 * one table so that host-only unit tests can run the same register code
 * with a fake clock, recorded interrupt lines and hand-fired timers. */
#ifndef HYVE_DEV_HOST_H
#define HYVE_DEV_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "hyve/err.h"
#include "hyve/evloop.h"
#include "hyve/timer.h"

struct machine;

struct dev_host_ops {
	uint64_t (*clock_ns)(const struct machine *m);
	int (*irq_set)(struct machine *m, unsigned gsi, int level);
	struct hyve_timer *(*timer_new)(struct machine *m, timer_fn fn,
					void *opaque);
	void (*timer_arm)(struct hyve_timer *t, uint64_t deadline_ns);
	void (*timer_disarm)(struct hyve_timer *t);
	void (*timer_free)(struct hyve_timer *t);
	void (*request_exit)(struct machine *m, int status, const char *reason);
	/* KVM_PIT_FLAGS_HPET_LEGACY: the in-kernel PIT stops driving IRQ 0. */
	int (*pit_set_hpet_legacy)(struct machine *m, bool on);
	int (*watch_fd)(struct machine *m, int fd, evloop_fn fn, void *opaque,
			struct hyve_err *err);
	void (*unwatch_fd)(struct machine *m, int fd);
	/* The ACPI PM device puts the machine into a system state: 3 stops
	 * every vCPU (S3), 0 wakes them at the FACS waking vector.  Called
	 * with the device's lock held: the machine acts on it later, on the
	 * main thread. */
	void (*power_state)(struct machine *m, unsigned acpi_state);
};

/* The real machine by default; a unit test points it at its fakes before
 * creating devices. */
extern const struct dev_host_ops *dev_host;
extern const struct dev_host_ops dev_host_machine;

static inline void dev_irq_pulse(struct machine *m, unsigned gsi)
{
	dev_host->irq_set(m, gsi, 1);
	dev_host->irq_set(m, gsi, 0);
}

/* Splits a little-endian bus access into bytes: ISA devices with 8-bit
 * registers see a wider access as consecutive byte accesses, the way the
 * ISA bus cycle splitter presents an `outw`/`outl` to them. */
static inline uint64_t dev_bytes_get(const uint8_t *data, unsigned len)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < len && i < 8; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

static inline void dev_bytes_put(uint8_t *data, unsigned len, uint64_t v)
{
	for (unsigned i = 0; i < len && i < 8; i++)
		data[i] = (uint8_t)(v >> (8 * i));
}

#endif

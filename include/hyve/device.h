/* The device interface.  Every device model, whether its registers live in
 * hyve or in KVM, presents the same face: a `struct device_type` with
 * lifecycle hooks and a state table (include/hyve/state.h).
 *
 * State ownership.  Each device keeps the modelled hardware state in a plain
 * struct described by `type->state`.  The snapshot code never looks inside a
 * device beyond that:
 *   save:    snap code calls type->save(dev, buf) to fill a state struct
 *            (for a device emulated in hyve: copy under its lock; for a
 *            KVM-held device: ioctl + decode into named fields),
 *            then encodes buf with the state table.
 *   restore: snap code decodes into a staging struct (defaults for fields
 *            absent in older sections), calls type->check(staged) for every
 *            device, and only when all pass calls type->load(dev, staged)
 *            with vCPUs stopped, then type->post_load(dev).
 *
 * Devices register themselves with DEVICE_TYPE_REGISTER(); the machine
 * creates the instances its configuration asks for.
 */
#ifndef HYVE_DEVICE_H
#define HYVE_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hyve/err.h"
#include "hyve/state.h"

struct machine;
struct device;

/* Options a device instance was created with: the conf string of
 * `-s slot,emulation,CONF` or of a built-in device, kept verbatim in the
 * snapshot's machine description so restore recreates the same device. */
struct dev_opts {
	const char *conf; /* may be NULL */
};

struct device_type {
	/* Stable forever: names the device's section in snapshots. */
	const char *name;

	int (*create)(struct machine *m, struct device *dev,
		      const struct dev_opts *opts, struct hyve_err *err);
	void (*destroy)(struct device *dev);
	/* Power-on / platform reset state. */
	void (*reset)(struct device *dev);

	/* What a snapshot holds; NULL = the device has no guest state. */
	const struct state_desc *state;
	/* Fill `state` (type->state->size bytes, zeroed by the caller) with
	 * the current state.  Called with every vCPU paused. */
	int (*save)(struct device *dev, void *state, struct hyve_err *err);
	/* Reject impossible values in a decoded state before anything is
	 * committed (index out of range, reserved bits, ...). NULL = accept. */
	int (*check)(const void *staged, struct hyve_err *err);
	/* Commit a checked state into the device (vCPUs stopped). */
	int (*load)(struct device *dev, const void *staged,
		    struct hyve_err *err);

	/* Before save: finish in-flight I/O, stop timers.  NULL = nothing. */
	int (*quiesce)(struct device *dev, struct hyve_err *err);
	/* After load: re-arm timers, reattach backends.  NULL = nothing. */
	int (*post_load)(struct device *dev, struct hyve_err *err);
	/* After a save that is followed by running on (checkpoint). */
	void (*resume)(struct device *dev);

	/* How many instances (0..n-1) the machine creates by itself, as a
	 * PC has them without being asked (RTC: 1, UART: 2, LAPIC: one per
	 * vCPU).  NULL: created only from the configuration (-s slots). */
	unsigned (*builtin_count)(const struct machine *m);

	/* The state is committed by the vCPU restore at the point KVM's
	 * ordering rules require (the LAPIC: after the vCPU's special
	 * registers, before its MSRs and events), not by the device loop. */
	bool loaded_with_vcpu;

	/* The device keeps power through ACPI S3 (the battery-backed RTC,
	 * the PM device's wake logic): a wake from S3 does not reset it,
	 * as it resets every other device. */
	bool sleep_powered;
};

struct device {
	const struct device_type *type;
	struct machine *machine;
	unsigned instance;     /* section key is "name" or "name.instance" */
	char conf[256];        /* dev_opts.conf, kept for the snapshot */
	void *priv;            /* the device's own struct */
	struct device *next;   /* machine's device list */
};

void device_type_register(const struct device_type *type);
const struct device_type *device_type_find(const char *name);
/* Iterate registered types: returns NULL after the last. */
const struct device_type *device_type_at(unsigned index);

#define DEVICE_TYPE_REGISTER(type_var)                                      \
	__attribute__((constructor)) static void register_##type_var(void)  \
	{                                                                   \
		device_type_register(&(type_var));                          \
	}

#endif

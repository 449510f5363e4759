/* The machine: guest RAM, vCPU threads, the I/O buses, the device list,
 * pause/resume, and the exit request that ends hyve. */
#ifndef HYVE_MACHINE_H
#define HYVE_MACHINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hyve/boot.h"
#include "hyve/bus.h"
#include "hyve/config.h"
#include "hyve/device.h"
#include "hyve/err.h"
#include "hyve/mem.h"

/* Exit statuses, as bhyve(8). The debug-exit port gives (V << 1) | 1. */
enum hyve_exit {
	HYVE_EXIT_REBOOT = 0,
	HYVE_EXIT_POWEROFF = 1,
	HYVE_EXIT_HALT = 2,
	HYVE_EXIT_TRIPLEFAULT = 3,
	HYVE_EXIT_ERROR = 4,
};

struct evloop;
struct vcpu;

struct machine {
	struct vm_config cfg;
	int kvm_fd, vm_fd;
	int vcpu_mmap_size;
	struct guest_mem mem;
	unsigned nr_vcpus;
	struct vcpu *vcpus;
	struct bus pio, mmio;
	struct device *devices; /* creation order */
	struct evloop *loop;
	int signal_fd;

	/* Guest clock offset: vm_clock_ns = CLOCK_MONOTONIC + this. */
	int64_t vm_clock_offset_ns;
	/* Set by a restore before post_load: true, and the host wall-clock
	 * time that passed since the save (for --restore-wallclock). */
	bool restored;
	int64_t restore_wall_elapsed_ns;

	/* Pause protocol (see src/core/pause.c). */
	pthread_mutex_t pause_lock;
	pthread_cond_t pause_cond;
	atomic_bool pause_requested;
	unsigned pause_depth;
	unsigned nr_parked;   /* vCPU threads waiting in machine_pause_point */
	unsigned nr_threads;  /* vCPU threads started and not yet gone */

	struct hyve_timer *halt_probe;
	unsigned long halt_probe_exits;
	bool halt_probe_pending;

	/* ACPI S3 (src/core/power.c): the PM device's requests, counted so
	 * that a sleep and a wake in quick succession both happen, and what
	 * the main thread has carried out. */
	struct hyve_timer *power_timer;
	atomic_uint power_sleeps, power_wakes;
	unsigned power_sleeps_done, power_wakes_done;
	bool sleeping; /* main thread: the vCPUs are held for S3 */

	/* First exit request wins; the main loop then stops the vCPUs. */
	atomic_int exit_requested; /* 0 = running, 1 = requested */
	int exit_status;
	char exit_reason[256];
};

int machine_create(struct machine *m, const struct vm_config *cfg,
		   struct hyve_err *err);
/* Fresh boot: firmware tables, kernel, boot registers.  (A restore loads
 * saved state instead.) */
int machine_boot(struct machine *m, struct hyve_err *err);
/* Starts the vCPU threads and runs the event loop on the calling thread
 * until an exit is requested; stops and joins the vCPUs.  Returns the exit
 * status. */
int machine_run(struct machine *m);
void machine_destroy(struct machine *m);

/* Ends the VM with `status` (HYVE_EXIT_* or a debug-exit status).
 * Callable from any thread; the first request wins. */
void machine_request_exit(struct machine *m, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parks every vCPU outside KVM_RUN and returns once all are parked
 * (signal + immediate_exit).  Nests: each pause needs one resume. */
int machine_pause(struct machine *m, struct hyve_err *err);
void machine_resume(struct machine *m);

/* ACPI sleeping states (src/core/power.c).  The PM device reports the
 * state the guest put the platform in, from any thread: 3 (S3, suspend to
 * RAM) holds every vCPU until a wake; 0 wakes them at the FACS waking
 * vector, after a reset of the devices that lose power in S3.  The main
 * thread carries it out soon after (before the vCPUs first run, for a
 * machine restored asleep). */
void machine_set_power_state(struct machine *m, unsigned acpi_state);
/* True while the vCPUs are held for S3.  Main thread. */
bool machine_sleeping(const struct machine *m);
/* A wake event from the host (hyvectl --wake): the machine is running
 * again on return.  -EALREADY, saying so, if it was not sleeping.  Main
 * thread. */
int machine_wake(struct machine *m, struct hyve_err *err);
/* Presses the ACPI power button (PWRBTN_STS; the guest's power-button
 * handler runs, or a sleeping machine wakes).  Main thread. */
void machine_power_button(struct machine *m);

/* Interrupt lines of the in-kernel irqchip (PIC pins 0-15 and IOAPIC GSIs
 * 0-23 share numbers, as KVM routes them by default). */
int machine_irq_set(struct machine *m, unsigned gsi, int level);
/* An edge: raise then lower. */
int machine_irq_pulse(struct machine *m, unsigned gsi);

/* Creates a device of the named type and adds it to the machine. */
int machine_add_device(struct machine *m, const char *type_name,
		       unsigned instance, const char *conf,
		       struct device **out, struct hyve_err *err);
struct device *machine_find_device(struct machine *m, const char *type_name,
				   unsigned instance);

#endif

/* A virtual CPU: one thread running KVM_RUN and handling the exits that come
 * back to it (port I/O, MMIO, halts, shutdowns). */
#ifndef HYVE_VCPU_H
#define HYVE_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hyve/boot.h"
#include "hyve/err.h"

struct machine;

struct vcpu {
	struct machine *machine;
	unsigned index;       /* 0 = bootstrap processor; also the APIC ID */
	int fd;
	struct kvm_run *run;  /* mmap of the vCPU fd */
	pthread_t thread;
	bool thread_started;
	bool io_pending;           /* an I/O exit KVM completes on next KVM_RUN */
	atomic_ulong nr_exits;     /* exits handled: progress for the halt probe */
	atomic_int probe_requested;
	atomic_int probe_dead;      /* halted with IF=0, or never started */
};

int vcpu_create(struct machine *m, unsigned index, struct hyve_err *err);
/* CPUID from KVM_GET_SUPPORTED_CPUID with this vCPU's APIC ID and the
 * machine's topology (one socket, nr_vcpus cores, one thread each). */
int vcpu_setup_cpuid(struct vcpu *v, struct hyve_err *err);
/* Registers for the boot entry (BSP) or the wait-for-SIPI state (APs). */
int vcpu_setup_boot(struct vcpu *v, const struct boot_entry *entry,
		    struct hyve_err *err);
/* An ACPI S3 wake (src/kvm/vcpu_reset.c): the vCPU as after a reset, then
 * the BSP at the waking vector `w` (cr3: the firmware's identity map for a
 * long-mode vector) and every AP waiting for INIT-SIPI.  The vCPU must be
 * out of KVM_RUN. */
int vcpu_reset_to_wake(struct vcpu *v, const struct acpi_wake_vector *w,
		       uint64_t cr3, struct hyve_err *err);
void vcpu_destroy(struct vcpu *v);

#endif

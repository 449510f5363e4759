/* Core-internal functions shared by machine.c, pause.c and vcpu_loop.c. */
#ifndef HYVE_CORE_INTERNAL_H
#define HYVE_CORE_INTERNAL_H

#include <stdbool.h>

struct hyve_err;
struct machine;
struct vcpu;

void vcpu_loop_init_signals(void);
void vcpu_kick(struct vcpu *v);
void *vcpu_thread_main(void *arg);

/* Called by a vCPU thread before each KVM_RUN: parks while a pause is
 * requested.  Returns true if it parked (the caller re-checks flags). */
bool machine_pause_point(struct machine *m);
/* A vCPU thread is leaving for good: it counts as parked from now on. */
void machine_vcpu_exiting(struct machine *m);

/* ACPI S3 on the main thread (power.c): start carries out what was asked
 * before the vCPUs run (a machine restored asleep) and arms the work for
 * later requests; stop frees it. */
int machine_power_start(struct machine *m, struct hyve_err *err);
void machine_power_stop(struct machine *m);

#endif

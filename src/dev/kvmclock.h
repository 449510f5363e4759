/* The VM clock (kvmclock's time base, KVM_GET_CLOCK / KVM_SET_CLOCK) as
 * named state.  See src/dev/kvmclock.c. */
#ifndef HYVE_DEV_KVMCLOCK_H
#define HYVE_DEV_KVMCLOCK_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "hyve/err.h"
#include "hyve/state.h"

struct kvmclock_state {
	uint64_t clock_ns;   /* the guest's kvmclock time */
	bool tsc_stable;     /* KVM_CLOCK_TSC_STABLE: a master clock was in use */
	bool realtime_valid; /* KVM_CLOCK_REALTIME: realtime_ns is valid */
	uint64_t realtime_ns; /* host CLOCK_REALTIME at the same instant */
	bool host_tsc_valid; /* KVM_CLOCK_HOST_TSC: host_tsc is valid */
	uint64_t host_tsc;   /* host TSC at the same instant (informational) */
	/* CLOCK_REALTIME read by hyve right after KVM_GET_CLOCK: lets the
	 * "advance" option work on hosts without KVM_CLOCK_REALTIME. */
	uint64_t wall_ns;
};

extern const struct state_desc kvmclock_state_desc;

void kvmclock_decode(const struct kvm_clock_data *k, struct kvmclock_state *s);
/* Fills the kvm_clock_data KVM_GET_CLOCK returned for this state (the
 * flags say which of realtime/host_tsc are valid). */
void kvmclock_encode(const struct kvmclock_state *s, struct kvm_clock_data *k);
int kvmclock_check(const struct kvmclock_state *s, struct hyve_err *err);

int kvmclock_read(int vm_fd, struct kvmclock_state *s, struct hyve_err *err);
/* Sets the VM clock.  advance=false: to the saved clock_ns, so the guest's
 * monotonic time continues from where it was saved (the time spent
 * suspended does not exist for the guest).  advance=true: forward by the
 * real time elapsed since the save (KVM_CLOCK_REALTIME when both the saved
 * state and this host have it, else by wall_ns); never backwards. */
int kvmclock_write(int vm_fd, const struct kvmclock_state *s, bool advance,
		   struct hyve_err *err);

/* VM clock minus host CLOCK_MONOTONIC, now: converts host ktime values
 * that KVM exposes (the PIT's count_load_time) to VM clock time. */
int kvmclock_vm_minus_host(int vm_fd, int64_t *out, struct hyve_err *err);

#endif

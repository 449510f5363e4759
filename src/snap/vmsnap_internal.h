/* Shared by vmsave.c and vmrestore.c: the machine-wide section. */
#ifndef HYVE_SNAP_VMSNAP_INTERNAL_H
#define HYVE_SNAP_VMSNAP_INTERNAL_H

#include <stdint.h>

#include "hyve/state.h"

/* Section "vm": time bases of the machine as a whole. */
struct vm_time_state {
	uint64_t vm_clock_ns;   /* hyve's guest clock (device timers) */
	uint64_t wall_clock_ns; /* host CLOCK_REALTIME at save, for --restore-wallclock */
};

extern const struct state_desc vm_time_state_desc;

#endif

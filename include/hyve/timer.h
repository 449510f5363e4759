/* Guest-time clock and device timers.
 *
 * vm_clock_ns() is the guest's virtual nanosecond clock: CLOCK_MONOTONIC plus
 * an offset, so that after a restore it continues from the value saved.
 * Devices derive their counters from it and save deadlines relative to it.
 *
 * Timers fire on the main thread (timerfd in the event loop); a callback
 * takes the device's own lock. */
#ifndef HYVE_TIMER_H
#define HYVE_TIMER_H

#include <stdint.h>

struct machine;
struct hyve_timer;

typedef void (*timer_fn)(void *opaque);

uint64_t vm_clock_ns(const struct machine *m);

struct hyve_timer *timer_new(struct machine *m, timer_fn fn, void *opaque);
/* Fire once at vm-clock time `deadline_ns` (immediately if in the past).
 * Re-arming replaces any earlier deadline. */
void timer_arm(struct hyve_timer *t, uint64_t deadline_ns);
void timer_disarm(struct hyve_timer *t);
void timer_free(struct hyve_timer *t);

#endif

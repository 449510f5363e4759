/* Device timers on the guest clock, each a timerfd in the event loop. */
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hyve/evloop.h"
#include "hyve/machine.h"
#include "hyve/timer.h"

struct hyve_timer {
	struct machine *machine;
	int fd;
	timer_fn fn;
	void *opaque;
};

static int64_t timer_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

uint64_t vm_clock_ns(const struct machine *m)
{
	return (uint64_t)(timer_monotonic_ns() + m->vm_clock_offset_ns);
}

static void timer_fired(void *opaque, int fd)
{
	struct hyve_timer *t = opaque;
	uint64_t expirations;

	if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return; /* re-armed or disarmed since it fired */
	t->fn(t->opaque);
}

struct hyve_timer *timer_new(struct machine *m, timer_fn fn, void *opaque)
{
	struct hyve_timer *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->machine = m;
	t->fn = fn;
	t->opaque = opaque;
	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->fd < 0 || evloop_add_fd(m->loop, t->fd, timer_fired, t, NULL) < 0) {
		if (t->fd >= 0)
			close(t->fd);
		free(t);
		return NULL;
	}
	return t;
}

void timer_arm(struct hyve_timer *t, uint64_t deadline_ns)
{
	int64_t mono = (int64_t)deadline_ns - t->machine->vm_clock_offset_ns;
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	/* An absolute time of zero would disarm: a deadline already past
	 * becomes 1 ns, which fires at once. */
	if (mono < 1)
		mono = 1;
	its.it_value.tv_sec = mono / 1000000000LL;
	its.it_value.tv_nsec = mono % 1000000000LL;
	timerfd_settime(t->fd, TFD_TIMER_ABSTIME, &its, NULL);
}

void timer_disarm(struct hyve_timer *t)
{
	struct itimerspec its;

	memset(&its, 0, sizeof(its));
	timerfd_settime(t->fd, 0, &its, NULL);
}

void timer_free(struct hyve_timer *t)
{
	if (!t)
		return;
	evloop_del_fd(t->machine->loop, t->fd);
	close(t->fd);
	free(t);
}

/* A fake machine for the device-model unit tests: a hand-driven guest
 * clock, recorded interrupt lines, timers fired by fake_run_until(), a
 * recorded exit request and fd watches, all through dev_host
 * (src/dev/dev_host.h).  Devices are created with the real
 * machine_add_device() and reached through the real bus. */
#ifndef HYVE_TEST_DEV_FAKE_H
#define HYVE_TEST_DEV_FAKE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dev/dev_host.h"
#include "hyve/machine.h"
#include "hyve/snapshot.h"

#define FAKE_TIMERS 16
#define FAKE_GSIS   24

struct hyve_timer {
	bool used, armed;
	uint64_t deadline;
	timer_fn fn;
	void *opaque;
	unsigned arms; /* timer_arm calls */
};

struct fake_state {
	uint64_t now;
	int irq[FAKE_GSIS];
	unsigned rises[FAKE_GSIS];
	unsigned irq_calls;
	struct hyve_timer timers[FAKE_TIMERS];
	unsigned exits;
	int exit_status;
	char exit_reason[256];
	bool pit_legacy;
	int watch_fd;
	evloop_fn watch_fn;
	void *watch_opaque;
	unsigned watches, unwatches;
	unsigned power_calls; /* dev_host->power_state */
	unsigned power_state; /* its last argument */
};

static struct fake_state fake;

static inline uint64_t fake_clock_ns(const struct machine *m)
{
	(void)m;
	return fake.now;
}

static inline int fake_irq_set(struct machine *m, unsigned gsi, int level)
{
	(void)m;
	fake.irq_calls++;
	if (gsi >= FAKE_GSIS)
		return -EINVAL;
	if (level && !fake.irq[gsi])
		fake.rises[gsi]++;
	fake.irq[gsi] = level != 0;
	return 0;
}

static inline struct hyve_timer *fake_timer_new(struct machine *m, timer_fn fn,
						void *opaque)
{
	(void)m;
	for (unsigned i = 0; i < FAKE_TIMERS; i++) {
		if (!fake.timers[i].used) {
			fake.timers[i] = (struct hyve_timer){
			    .used = true, .fn = fn, .opaque = opaque};
			return &fake.timers[i];
		}
	}
	return NULL;
}

static inline void fake_timer_arm(struct hyve_timer *t, uint64_t deadline)
{
	t->armed = true;
	t->deadline = deadline;
	t->arms++;
}

static inline void fake_timer_disarm(struct hyve_timer *t)
{
	t->armed = false;
}

static inline void fake_timer_free(struct hyve_timer *t)
{
	t->used = t->armed = false;
}

static inline void fake_request_exit(struct machine *m, int status,
				     const char *reason)
{
	(void)m;
	fake.exits++;
	fake.exit_status = status;
	snprintf(fake.exit_reason, sizeof(fake.exit_reason), "%s", reason);
}

static inline int fake_pit_set_hpet_legacy(struct machine *m, bool on)
{
	(void)m;
	fake.pit_legacy = on;
	return 0;
}

static inline int fake_watch_fd(struct machine *m, int fd, evloop_fn fn,
				void *opaque, struct hyve_err *err)
{
	struct stat st;

	(void)m;
	(void)err;
	/* epoll refuses regular files, as the real event loop does. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return -EPERM;
	fake.watch_fd = fd;
	fake.watch_fn = fn;
	fake.watch_opaque = opaque;
	fake.watches++;
	return 0;
}

static inline void fake_unwatch_fd(struct machine *m, int fd)
{
	(void)m;
	(void)fd;
	fake.watch_fn = NULL;
	fake.unwatches++;
}

static inline void fake_power_state(struct machine *m, unsigned state)
{
	(void)m;
	fake.power_calls++;
	fake.power_state = state;
}

static const struct dev_host_ops fake_ops = {
    .clock_ns = fake_clock_ns,
    .irq_set = fake_irq_set,
    .timer_new = fake_timer_new,
    .timer_arm = fake_timer_arm,
    .timer_disarm = fake_timer_disarm,
    .timer_free = fake_timer_free,
    .request_exit = fake_request_exit,
    .pit_set_hpet_legacy = fake_pit_set_hpet_legacy,
    .watch_fd = fake_watch_fd,
    .unwatch_fd = fake_unwatch_fd,
    .power_state = fake_power_state,
};

/* The earliest armed timer, or NULL. */
static inline struct hyve_timer *fake_next_timer(void)
{
	struct hyve_timer *best = NULL;

	for (unsigned i = 0; i < FAKE_TIMERS; i++) {
		struct hyve_timer *t = &fake.timers[i];

		if (t->used && t->armed &&
		    (!best || t->deadline < best->deadline))
			best = t;
	}
	return best;
}

/* Advances the clock to `until`, firing due timers at their deadlines (a
 * deadline in the past fires "now", as a timerfd does). */
static inline unsigned fake_run_until(uint64_t until)
{
	struct hyve_timer *t;
	unsigned fired = 0;

	while ((t = fake_next_timer()) && t->deadline <= until &&
	       fired < 10000000) {
		if (t->deadline > fake.now)
			fake.now = t->deadline;
		t->armed = false;
		t->fn(t->opaque);
		fired++;
	}
	if (until > fake.now)
		fake.now = until;
	return fired;
}

/* Starts a fake machine with `mem` bytes of (unallocated) RAM layout and
 * the fakes installed.  The clock starts at an arbitrary nonzero time. */
static inline void fake_machine_init(struct machine *m, uint64_t mem)
{
	memset(&fake, 0, sizeof(fake));
	fake.now = 5000000000ULL;
	fake.watch_fd = -1;
	dev_host = &fake_ops;
	memset(m, 0, sizeof(*m));
	vm_config_defaults(&m->cfg);
	m->kvm_fd = m->vm_fd = -1;
	guest_mem_layout(&m->mem, mem, NULL);
	bus_init(&m->pio, "pio");
	bus_init(&m->mmio, "mmio");
}

static inline void fake_machine_destroy(struct machine *m)
{
	struct device *d = m->devices, *next;

	for (; d; d = next) {
		next = d->next;
		if (d->type->destroy)
			d->type->destroy(d);
		free(d);
	}
	m->devices = NULL;
}

static inline struct device *fake_add(struct machine *m, const char *name,
				      unsigned instance)
{
	struct hyve_err err = {0};
	struct device *dev = NULL;

	if (machine_add_device(m, name, instance, NULL, &dev, &err) < 0) {
		printf("FAIL: creating %s.%u: %s\n", name, instance, err.msg);
		return NULL;
	}
	return dev;
}

static inline void pio_write(struct machine *m, uint64_t port, uint64_t v,
			     unsigned len)
{
	uint8_t data[8];

	dev_bytes_put(data, len, v);
	bus_access(&m->pio, port, data, len, true);
}

static inline uint64_t pio_read(struct machine *m, uint64_t port, unsigned len)
{
	uint8_t data[8];

	bus_access(&m->pio, port, data, len, false);
	return dev_bytes_get(data, len);
}

static inline void mmio_write(struct machine *m, uint64_t addr, uint64_t v,
			      unsigned len)
{
	uint8_t data[8];

	dev_bytes_put(data, len, v);
	bus_access(&m->mmio, addr, data, len, true);
}

static inline uint64_t mmio_read(struct machine *m, uint64_t addr, unsigned len)
{
	uint8_t data[8];

	bus_access(&m->mmio, addr, data, len, false);
	return dev_bytes_get(data, len);
}

/* xorshift64*: reproducible random values for the random-write tests. */
static uint64_t fake_rand_state = 0x9e3779b97f4a7c15ULL;

static inline uint64_t fake_rand(void)
{
	uint64_t x = fake_rand_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	fake_rand_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Saves a device's state into a fresh buffer and runs its check on it:
 * the state a device holds must always be one it would accept. */
static inline int fake_save_check(struct device *dev, void **out)
{
	struct hyve_err err = {0};
	void *buf = calloc(1, dev->type->state->size);
	int ret = dev->type->save(dev, buf, &err);

	if (ret == 0 && dev->type->check)
		ret = dev->type->check(buf, &err);
	if (ret)
		printf("# %s: %s\n", dev->type->name, err.msg);
	if (out)
		*out = buf;
	else
		free(buf);
	return ret;
}

/* Encodes a state with the snapshot codec and decodes it back: the state
 * table must describe the struct exactly (every byte survives). */
static inline bool fake_wire_roundtrip(const struct state_desc *desc,
				       const void *state)
{
	struct snap_buf b = {0};
	struct hyve_err err = {0};
	void *back = calloc(1, desc->size);
	bool ok = snap_fields_encode(&b, desc, state, &err) == 0 &&
		  snap_fields_decode(b.data, b.len, desc, desc->version, back,
				     &err) == 0 &&
		  memcmp(back, state, desc->size) == 0;

	if (!ok)
		printf("# %s wire round trip: %s\n", desc->name, err.msg);
	snap_buf_free(&b);
	free(back);
	return ok;
}

/* load + post_load of a saved state into another instance. */
static inline int fake_load(struct device *dev, const void *state)
{
	struct hyve_err err = {0};
	int ret = dev->type->check ? dev->type->check(state, &err) : 0;

	if (!ret)
		ret = dev->type->load(dev, state, &err);
	if (!ret && dev->type->post_load)
		ret = dev->type->post_load(dev, &err);
	if (ret)
		printf("# %s: %s\n", dev->type->name, err.msg);
	return ret;
}

#endif

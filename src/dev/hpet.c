/* HPET: a 64-bit main counter at 100 MHz and three comparators, at MMIO
 * HPET_BASE (include/hyve/hpet.h).  IA-PC HPET specification 1.0a.
 *
 * The main counter is derived from the guest clock (counter at
 * clock_base_ns, plus elapsed ticks while ENABLE_CNF is set).  Comparator
 * matches are found by hpet_advance(), which walks the counter from its
 * last value to "now" and fires every comparator passed on the way: on each
 * register access and from one host timer armed for the earliest match that
 * would interrupt.  A periodic comparator that fell behind is moved past
 * "now" in one step (missed periods coalesce into one interrupt), and a
 * periodic comparator is never served closer than HPET_MIN_REARM_NS after
 * the timer fired, so a tiny period cannot turn into a host timer storm.
 *
 * Legacy replacement routing (LEG_RT_CNF): timer 0 drives IRQ 0 (GSI 0,
 * which KVM routes to PIC pin 0 and IOAPIC pin 2 like the PIT) and timer 1
 * IRQ 8; the PIT (KVM_PIT_FLAGS_HPET_LEGACY) and the RTC stop driving them. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_host.h"
#include "dev/rtc.h"
#include "hyve/hpet.h"
#include "hyve/machine.h"

#define HPET_REG_CAP	  0x000
#define HPET_REG_CONFIG	  0x010
#define HPET_REG_STATUS	  0x020
#define HPET_REG_COUNTER  0x0f0
#define HPET_REG_TIMER0	  0x100
#define HPET_TIMER_STRIDE 0x20

#define HPET_CFG_ENABLE 0x1ULL
#define HPET_CFG_LEGACY 0x2ULL

#define HPET_TN_LEVEL	    (1ULL << 1)
#define HPET_TN_ENABLE	    (1ULL << 2)
#define HPET_TN_PERIODIC    (1ULL << 3)
#define HPET_TN_PER_CAP	    (1ULL << 4)
#define HPET_TN_SIZE_CAP    (1ULL << 5)
#define HPET_TN_VAL_SET	    (1ULL << 6)
#define HPET_TN_32BIT	    (1ULL << 8)
#define HPET_TN_ROUTE_SHIFT 9
#define HPET_TN_ROUTE	    (0x1fULL << HPET_TN_ROUTE_SHIFT)
#define HPET_TN_WRITABLE                                                       \
	(HPET_TN_LEVEL | HPET_TN_ENABLE | HPET_TN_PERIODIC | HPET_TN_VAL_SET | \
	 HPET_TN_32BIT | HPET_TN_ROUTE)
/* Every timer: periodic capable, 64-bit, no FSB delivery. */
#define HPET_TN_CAPS                                                           \
	(HPET_TN_PER_CAP | HPET_TN_SIZE_CAP | (uint64_t)HPET_ROUTE_CAP << 32)

#define HPET_MIN_REARM_NS   100000LL
#define HPET_MAX_WAIT_TICKS (1ULL << 46) /* re-check at least every ~8 days */
#define HPET_NR_GSI	    24

struct hpet_timer_state {
	uint64_t config; /* HPET_TN_WRITABLE bits */
	uint64_t cmp;	 /* next match */
	uint64_t period; /* periodic mode: added to cmp at each match */
};

static const struct state_field hpet_timer_fields[] = {
    FIELD_U64(struct hpet_timer_state, config, 1),
    FIELD_U64(struct hpet_timer_state, cmp, 1),
    FIELD_U64(struct hpet_timer_state, period, 1), FIELD_END};

static const struct state_desc hpet_timer_desc =
    STATE_DESC("hpet_timer", struct hpet_timer_state, 1, hpet_timer_fields);

struct hpet_state {
	uint64_t config;	/* ENABLE_CNF, LEG_RT_CNF */
	uint64_t isr;		/* level-triggered interrupt status */
	uint64_t counter;	/* main counter at clock_base_ns */
	uint64_t clock_base_ns; /* guest clock instant of `counter` */
	struct hpet_timer_state timers[HPET_NUM_TIMERS];
};

static const struct state_field hpet_fields[] = {
    FIELD_U64(struct hpet_state, config, 1),
    FIELD_U64(struct hpet_state, isr, 1),
    FIELD_U64(struct hpet_state, counter, 1),
    FIELD_U64(struct hpet_state, clock_base_ns, 1),
    FIELD_STRUCT_ARRAY(struct hpet_state, timers, struct hpet_timer_state,
		       hpet_timer_desc, 1),
    FIELD_END};

static const struct state_desc hpet_state_desc =
    STATE_DESC("hpet", struct hpet_state, 1, hpet_fields);

struct hpet {
	pthread_mutex_t lock;
	struct machine *m;
	struct hyve_timer *timer;
	uint64_t armed_at;	/* 0 = disarmed */
	bool line[HPET_NR_GSI]; /* GSIs this device holds high */
	struct hpet_state s;
};

/* --- counter and comparators --- */

static bool hpet_enabled(const struct hpet_state *s)
{
	return s->config & HPET_CFG_ENABLE;
}

static uint64_t hpet_counter_at(const struct hpet_state *s, uint64_t now)
{
	if (!hpet_enabled(s) || now <= s->clock_base_ns)
		return s->counter;
	return s->counter + (now - s->clock_base_ns) / HPET_TICK_NS;
}

static int hpet_timer_gsi(const struct hpet_state *s, unsigned n)
{
	unsigned route = (unsigned)((s->timers[n].config & HPET_TN_ROUTE) >>
				    HPET_TN_ROUTE_SHIFT);

	if ((s->config & HPET_CFG_LEGACY) && n < 2)
		return n == 0 ? 0 : 8;
	return (HPET_ROUTE_CAP & (1U << route)) ? (int)route : -1;
}

/* Ticks from `from` to the comparator's next match, 1..2^32 or 1..2^64-1
 * (a 32-bit comparator matches the low half of the counter).  A 32-bit
 * one-shot also interrupts when the low half wraps (HPET spec 2.3.9.2.1). */
static uint64_t hpet_ticks_to_match(const struct hpet_timer_state *t,
				    uint64_t from)
{
	uint64_t d;

	if (t->config & HPET_TN_32BIT) {
		d = (uint32_t)(t->cmp - from);
		if (d == 0)
			d = 1ULL << 32;
		if (!(t->config & HPET_TN_PERIODIC)) {
			uint64_t wrap = (1ULL << 32) - (uint32_t)from;

			if (wrap < d)
				d = wrap;
		}
		return d;
	}
	d = t->cmp - from;
	return d ? d : UINT64_MAX;
}

static void hpet_fire(struct hpet *h, unsigned n)
{
	struct hpet_timer_state *t = &h->s.timers[n];
	int gsi;

	if (t->config & HPET_TN_LEVEL) {
		h->s.isr |= 1ULL << n; /* set even when not enabled (2.3.7) */
		return;
	}
	gsi = hpet_timer_gsi(&h->s, n);
	/* A line held high by a level timer cannot show another edge. */
	if ((t->config & HPET_TN_ENABLE) && gsi >= 0 && !h->line[gsi])
		dev_irq_pulse(h->m, (unsigned)gsi);
}

/* Moves the counter to `now`, firing every comparator passed. */
static void hpet_advance(struct hpet *h, uint64_t now)
{
	struct hpet_state *s = &h->s;
	uint64_t old = s->counter, new = hpet_counter_at(s, now),
		 span = new - old;

	if (span == 0)
		return;
	for (unsigned n = 0; n < HPET_NUM_TIMERS; n++) {
		struct hpet_timer_state *t = &s->timers[n];
		uint64_t d = hpet_ticks_to_match(t, old);

		if (d > span)
			continue;
		if ((t->config & HPET_TN_PERIODIC) && t->period) {
			/* Step the comparator past `new` by whole periods:
			 * the accumulator as seen after the last match. */
			uint64_t steps = (span - d) / t->period + 1;

			t->cmp += steps * t->period;
			if (t->config & HPET_TN_32BIT)
				t->cmp = (uint32_t)t->cmp;
		}
		hpet_fire(h, n);
	}
	s->counter = new;
	s->clock_base_ns += span * HPET_TICK_NS;
}

static void hpet_update_lines(struct hpet *h, bool force)
{
	const struct hpet_state *s = &h->s;
	bool want[HPET_NR_GSI] = {false}, used[HPET_NR_GSI] = {false};

	for (unsigned n = 0; n < HPET_NUM_TIMERS; n++) {
		int gsi = hpet_timer_gsi(s, n);
		uint64_t cfg = s->timers[n].config;

		if (gsi < 0)
			continue;
		used[gsi] = true;
		if ((cfg & HPET_TN_LEVEL) && (cfg & HPET_TN_ENABLE) &&
		    (s->isr & (1ULL << n)))
			want[gsi] = true;
	}
	for (unsigned gsi = 0; gsi < HPET_NR_GSI; gsi++) {
		if (want[gsi] != h->line[gsi] || (force && used[gsi])) {
			h->line[gsi] = want[gsi];
			dev_host->irq_set(h->m, gsi, want[gsi]);
		}
	}
}

/* Arms the host timer for the earliest match that would interrupt.  A
 * periodic comparator is not served before `not_before` (the storm cap);
 * one-shots always fire on time. */
static void hpet_schedule(struct hpet *h, uint64_t not_before)
{
	const struct hpet_state *s = &h->s;
	uint64_t deadline = UINT64_MAX;

	for (unsigned n = 0; n < HPET_NUM_TIMERS && hpet_enabled(s); n++) {
		const struct hpet_timer_state *t = &s->timers[n];
		uint64_t d, at;

		if (!(t->config & HPET_TN_ENABLE) || hpet_timer_gsi(s, n) < 0)
			continue;
		/* A pending level interrupt stays pending: nothing new to
		 * deliver until the guest clears it. */
		if ((t->config & HPET_TN_LEVEL) && (s->isr & (1ULL << n)))
			continue;
		d = hpet_ticks_to_match(t, s->counter);
		if (d > HPET_MAX_WAIT_TICKS)
			d = HPET_MAX_WAIT_TICKS;
		at = s->clock_base_ns + d * HPET_TICK_NS;
		if ((t->config & HPET_TN_PERIODIC) && at < not_before)
			at = not_before;
		if (at < deadline)
			deadline = at;
	}
	if (deadline == UINT64_MAX)
		deadline = 0;
	else if (deadline == 0)
		deadline = 1;
	if (deadline == h->armed_at)
		return;
	h->armed_at = deadline;
	if (deadline)
		dev_host->timer_arm(h->timer, deadline);
	else
		dev_host->timer_disarm(h->timer);
}

static void hpet_timer_fired(void *opaque)
{
	struct hpet *h = opaque;
	uint64_t now;

	pthread_mutex_lock(&h->lock);
	now = dev_host->clock_ns(h->m);
	h->armed_at = 0; /* it fired */
	hpet_advance(h, now);
	hpet_update_lines(h, false);
	hpet_schedule(h, now + HPET_MIN_REARM_NS);
	pthread_mutex_unlock(&h->lock);
}

/* --- legacy replacement --- */

static void hpet_tell_legacy(struct hpet *h, bool on, bool pit_too)
{
	struct device *rtc = machine_find_device(h->m, "rtc", 0);

	if (pit_too && dev_host->pit_set_hpet_legacy(h->m, on) < 0) {
		/* No in-kernel PIT (unit tests): nothing to silence. */
	}
	if (rtc)
		rtc_set_hpet_legacy(rtc, on);
}

/* --- registers --- */

static uint64_t hpet_reg_read(struct hpet *h, unsigned reg)
{
	const struct hpet_state *s = &h->s;

	switch (reg) {
	case HPET_REG_CAP:
		return HPET_PERIOD_FS << 32 | HPET_CAP_LOW;
	case HPET_REG_CONFIG:
		return s->config;
	case HPET_REG_STATUS:
		return s->isr;
	case HPET_REG_COUNTER:
		return s->counter;
	}
	if (reg >= HPET_REG_TIMER0 &&
	    reg < HPET_REG_TIMER0 + HPET_NUM_TIMERS * HPET_TIMER_STRIDE) {
		const struct hpet_timer_state *t =
		    &s->timers[(reg - HPET_REG_TIMER0) / HPET_TIMER_STRIDE];

		switch ((reg - HPET_REG_TIMER0) % HPET_TIMER_STRIDE) {
		case 0:
			return t->config | HPET_TN_CAPS;
		case 8:
			return t->cmp;
		default:
			return 0; /* FSB route (not supported), reserved */
		}
	}
	return 0; /* reserved */
}

static uint64_t hpet_merge(uint64_t old, uint64_t v, uint64_t mask)
{
	return (old & ~mask) | (v & mask);
}

static void hpet_write_config(struct hpet *h, uint64_t v, uint64_t mask)
{
	struct hpet_state *s = &h->s;
	uint64_t old = s->config;

	s->config =
	    hpet_merge(old, v, mask) & (HPET_CFG_ENABLE | HPET_CFG_LEGACY);
	/* Counting (re)starts from the counter's value now. */
	if ((s->config & HPET_CFG_ENABLE) && !(old & HPET_CFG_ENABLE))
		s->clock_base_ns = dev_host->clock_ns(h->m);
	if ((s->config ^ old) & HPET_CFG_LEGACY) {
		bool on = s->config & HPET_CFG_LEGACY;

		/* Take IRQ 0/8 over only after their owners let go, and
		 * hand them back only after lowering them. */
		if (on)
			hpet_tell_legacy(h, true, true);
		hpet_update_lines(h, false);
		if (!on)
			hpet_tell_legacy(h, false, true);
	}
}

static void hpet_write_timer_config(struct hpet_timer_state *t, uint64_t v,
				    uint64_t mask)
{
	uint64_t cfg = hpet_merge(t->config, v, mask) & HPET_TN_WRITABLE;
	unsigned route =
	    (unsigned)((cfg & HPET_TN_ROUTE) >> HPET_TN_ROUTE_SHIFT);

	/* A route outside Tn_INT_ROUTE_CAP is not taken. */
	if (!(HPET_ROUTE_CAP & (1U << route)))
		cfg = (cfg & ~HPET_TN_ROUTE) | (t->config & HPET_TN_ROUTE);
	t->config = cfg;
	if (cfg & HPET_TN_32BIT) {
		t->cmp = (uint32_t)t->cmp;
		t->period = (uint32_t)t->period;
	}
}

static void hpet_write_cmp(struct hpet_timer_state *t, uint64_t v,
			   uint64_t mask)
{
	/* Periodic mode: a write sets the period (the value added at each
	 * match); with Tn_VAL_SET_CNF it also sets the comparator itself,
	 * as most implementations read the spec.  VAL_SET then clears. */
	if (!(t->config & HPET_TN_PERIODIC) || (t->config & HPET_TN_VAL_SET))
		t->cmp = hpet_merge(t->cmp, v, mask);
	if (t->config & HPET_TN_PERIODIC)
		t->period = hpet_merge(t->period, v, mask);
	if (t->config & HPET_TN_32BIT) {
		t->cmp = (uint32_t)t->cmp;
		t->period = (uint32_t)t->period;
	}
	t->config &= ~HPET_TN_VAL_SET;
}

static void hpet_reg_write(struct hpet *h, unsigned reg, uint64_t v,
			   uint64_t mask, uint64_t now)
{
	struct hpet_state *s = &h->s;

	switch (reg) {
	case HPET_REG_CONFIG:
		hpet_write_config(h, v, mask);
		return;
	case HPET_REG_STATUS:
		s->isr &= ~(v & mask); /* write 1 to clear */
		return;
	case HPET_REG_COUNTER:
		/* Meant for a halted counter; while running it restarts
		 * from the written value. */
		s->counter = hpet_merge(s->counter, v, mask);
		s->clock_base_ns = now;
		return;
	}
	if (reg >= HPET_REG_TIMER0 &&
	    reg < HPET_REG_TIMER0 + HPET_NUM_TIMERS * HPET_TIMER_STRIDE) {
		struct hpet_timer_state *t =
		    &s->timers[(reg - HPET_REG_TIMER0) / HPET_TIMER_STRIDE];

		switch ((reg - HPET_REG_TIMER0) % HPET_TIMER_STRIDE) {
		case 0:
			hpet_write_timer_config(t, v, mask);
			break;
		case 8:
			hpet_write_cmp(t, v, mask);
			break;
		default:
			break; /* FSB route: FSB delivery not supported */
		}
	}
}

static void hpet_mmio(void *opaque, uint64_t offset, uint8_t *data,
		      unsigned len, bool is_write)
{
	struct hpet *h = opaque;
	uint64_t now;

	pthread_mutex_lock(&h->lock);
	now = dev_host->clock_ns(h->m);
	hpet_advance(h, now);
	/* Split the access at 8-byte register boundaries; each register
	 * sees its bytes and a mask of which ones were written. */
	for (unsigned i = 0; i < len;) {
		uint64_t pos = offset + i;
		unsigned reg = (unsigned)(pos & ~7ULL),
			 lane = (unsigned)(pos & 7), n = 8 - lane;

		if (pos >= HPET_LEN)
			break;
		if (n > len - i)
			n = len - i;
		if (is_write) {
			uint64_t v = 0, mask = 0;

			for (unsigned b = 0; b < n; b++) {
				v |= (uint64_t)data[i + b] << (8 * (lane + b));
				mask |= 0xffULL << (8 * (lane + b));
			}
			hpet_reg_write(h, reg, v, mask, now);
		} else {
			uint64_t v = hpet_reg_read(h, reg);

			for (unsigned b = 0; b < n; b++)
				data[i + b] = (uint8_t)(v >> (8 * (lane + b)));
		}
		i += n;
	}
	hpet_update_lines(h, false);
	hpet_schedule(h, 0);
	pthread_mutex_unlock(&h->lock);
}

/* --- lifecycle --- */

static void hpet_reset_state(struct hpet_state *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned n = 0; n < HPET_NUM_TIMERS; n++)
		s->timers[n].cmp = UINT64_MAX; /* as after a platform reset */
}

static void hpet_reset(struct device *dev)
{
	struct hpet *h = dev->priv;
	bool was_legacy;

	pthread_mutex_lock(&h->lock);
	was_legacy = h->s.config & HPET_CFG_LEGACY;
	hpet_reset_state(&h->s);
	hpet_update_lines(h, false);
	if (was_legacy)
		hpet_tell_legacy(h, false, true);
	hpet_schedule(h, 0);
	pthread_mutex_unlock(&h->lock);
}

static void hpet_destroy(struct device *dev)
{
	struct hpet *h = dev->priv;

	if (!h)
		return;
	if (h->timer)
		dev_host->timer_free(h->timer);
	pthread_mutex_destroy(&h->lock);
	free(h);
	dev->priv = NULL;
}

static int hpet_create(struct machine *m, struct device *dev,
		       const struct dev_opts *opts, struct hyve_err *err)
{
	struct hpet *h = calloc(1, sizeof(*h));
	int ret;

	(void)opts;
	if (!h)
		return err_set(err, ENOMEM, "hpet: out of memory");
	pthread_mutex_init(&h->lock, NULL);
	h->m = m;
	dev->priv = h;
	hpet_reset_state(&h->s);
	h->timer = dev_host->timer_new(m, hpet_timer_fired, h);
	if (!h->timer) {
		ret = err_set(err, ENOMEM, "hpet: cannot create its timer");
		goto out_destroy;
	}
	ret = bus_register(&m->mmio, HPET_BASE, HPET_LEN, hpet_mmio, h, "hpet",
			   err);
	if (ret < 0)
		goto out_destroy;
	return 0;
out_destroy:
	hpet_destroy(dev);
	return ret;
}

static int hpet_save(struct device *dev, void *state, struct hyve_err *err)
{
	struct hpet *h = dev->priv;

	(void)err;
	pthread_mutex_lock(&h->lock);
	hpet_advance(h, dev_host->clock_ns(h->m));
	hpet_update_lines(h, false);
	memcpy(state, &h->s, sizeof(h->s));
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static int hpet_check(const void *staged, struct hyve_err *err)
{
	const struct hpet_state *s = staged;

	if (s->config & ~(HPET_CFG_ENABLE | HPET_CFG_LEGACY) ||
	    s->isr >> HPET_NUM_TIMERS)
		return err_set(
		    err, EINVAL,
		    "hpet: reserved bits in config 0x%llx or status 0x%llx",
		    (unsigned long long)s->config, (unsigned long long)s->isr);
	if (s->clock_base_ns > (1ULL << 62))
		return err_set(err, EINVAL, "hpet: clock base out of range");
	for (unsigned n = 0; n < HPET_NUM_TIMERS; n++) {
		const struct hpet_timer_state *t = &s->timers[n];
		unsigned route = (unsigned)((t->config & HPET_TN_ROUTE) >>
					    HPET_TN_ROUTE_SHIFT);

		if (t->config & ~HPET_TN_WRITABLE ||
		    (route && !(HPET_ROUTE_CAP & (1U << route))))
			return err_set(err, EINVAL,
				       "hpet: timer %u config 0x%llx invalid",
				       n, (unsigned long long)t->config);
		if ((t->config & HPET_TN_32BIT) &&
		    (t->cmp >> 32 || t->period >> 32))
			return err_set(
			    err, EINVAL,
			    "hpet: timer %u is 32-bit but holds 64-bit values",
			    n);
	}
	return 0;
}

static int hpet_load(struct device *dev, const void *staged,
		     struct hyve_err *err)
{
	struct hpet *h = dev->priv;

	(void)err;
	pthread_mutex_lock(&h->lock);
	memcpy(&h->s, staged, sizeof(h->s));
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static int hpet_post_load(struct device *dev, struct hyve_err *err)
{
	struct hpet *h = dev->priv;

	(void)err;
	pthread_mutex_lock(&h->lock);
	/* The PIT's own section carries KVM_PIT_FLAGS_HPET_LEGACY; only the
	 * RTC, whose flag is not saved, is told again. */
	hpet_tell_legacy(h, h->s.config & HPET_CFG_LEGACY, false);
	hpet_update_lines(h, true);
	h->armed_at = 0;
	hpet_schedule(h, 0);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static int hpet_quiesce(struct device *dev, struct hyve_err *err)
{
	struct hpet *h = dev->priv;

	(void)err;
	pthread_mutex_lock(&h->lock);
	dev_host->timer_disarm(h->timer);
	h->armed_at = 0;
	pthread_mutex_unlock(&h->lock);
	return 0;
}

static void hpet_resume(struct device *dev)
{
	struct hpet *h = dev->priv;

	pthread_mutex_lock(&h->lock);
	hpet_schedule(h, 0);
	pthread_mutex_unlock(&h->lock);
}

static unsigned hpet_builtin_count(const struct machine *m)
{
	(void)m;
	return 1;
}

static const struct device_type hpet_type = {
    .name = "hpet",
    .create = hpet_create,
    .destroy = hpet_destroy,
    .reset = hpet_reset,
    .state = &hpet_state_desc,
    .save = hpet_save,
    .check = hpet_check,
    .load = hpet_load,
    .quiesce = hpet_quiesce,
    .post_load = hpet_post_load,
    .resume = hpet_resume,
    .builtin_count = hpet_builtin_count,
};

DEVICE_TYPE_REGISTER(hpet_type);

/* MC146818A real-time clock and CMOS RAM at ports 0x70/0x71, IRQ 8.
 *
 * Time is not counted by a host timer: the clock reads as
 *     seconds = sec_offset + floor((vm_clock - div_base_ns) / 1 s)
 * where div_base_ns is the guest-clock instant the divider chain started a
 * second.  Updates (and UIP, UF, AF) happen at div_base_ns + k s; periodic
 * flags at multiples of the rate's period from the same base.  Flags are
 * accounted lazily up to "now" whenever the guest looks or the
 * configuration changes (flags_checked_ns), and a host timer is armed only
 * for an event that would raise the interrupt (IRQF) while it is low, so a
 * periodic rate no guest acknowledges costs nothing and missed periods
 * coalesce.
 *
 * IRQF goes two ways: to IRQ 8 (unless HPET legacy replacement owns the
 * line) and, on each rising edge, to the ACPI PM device as the RTC_STS
 * fixed event, which wakes a machine in S3 when the OS set RTC_EN (ACPI
 * 6.4, 4.8.3.1.1).  The RTC is battery powered: S3 does not reset it.
 *
 * While the clock is stopped (SET, or the divider not at 32.768 kHz) the
 * time lives in the CMOS bytes, so a time the guest writes persists and a
 * restored snapshot continues from the saved time.
 *
 * Motorola MC146818A datasheet: register map (fig. 5), registers A-D,
 * update cycle (fig. 15/16), periodic rates (table 5). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dev/dev_host.h"
#include "dev/rtc.h"
#include "dev/rtc_clock.h"
#include "hyve/acpi_pm.h"
#include "hyve/machine.h"

static const struct state_field rtc_fields[] = {
    FIELD_BYTES(struct rtc_state, cmos, 1),
    FIELD_U8(struct rtc_state, index, 1),
    FIELD_BOOL(struct rtc_state, nmi_disabled, 1),
    FIELD_I64(struct rtc_state, div_base_ns, 1),
    FIELD_I64(struct rtc_state, sec_offset, 1),
    FIELD_I64(struct rtc_state, flags_checked_ns, 1),
    FIELD_END};

static const struct state_desc rtc_state_desc =
    STATE_DESC("rtc", struct rtc_state, 1, rtc_fields);

struct rtc {
	pthread_mutex_t lock;
	struct machine *m;
	struct hyve_timer *timer;
	bool hpet_legacy;
	bool irq_level;
	bool irqf; /* the chip's interrupt output, before IRQ 8 routing */
	int64_t armed_at; /* deadline the host timer holds, INT64_MAX = none */
	struct rtc_state s;
};

/* Each rising edge of IRQF is an ACPI RTC event (RTC_STS). */
static void rtc_irqf_update(struct rtc *r)
{
	bool irqf = rtc_irq_flags(&r->s) != 0;

	if (irqf && !r->irqf)
		acpi_pm_event(r->m, ACPI_PM_EVENT_RTC);
	r->irqf = irqf;
}

static void rtc_update_irq(struct rtc *r, bool force)
{
	bool level = !r->hpet_legacy && rtc_irq_flags(&r->s);

	rtc_irqf_update(r);
	if (level != r->irq_level || force) {
		r->irq_level = level;
		dev_host->irq_set(r->m, RTC_IRQ, level);
	}
}

static void rtc_timer_set(struct rtc *r, int64_t deadline)
{
	if (deadline < 0)
		deadline = 0;
	if (deadline == r->armed_at)
		return; /* most accesses change nothing: no syscall */
	r->armed_at = deadline;
	if (deadline == INT64_MAX)
		dev_host->timer_disarm(r->timer);
	else
		dev_host->timer_arm(r->timer, (uint64_t)deadline);
}

/* Arms the timer for the next event that would raise IRQ 8. */
static void rtc_schedule(struct rtc *r, int64_t now)
{
	struct rtc_state *s = &r->s;
	uint8_t b = s->cmos[RTC_REG_B], c = s->cmos[RTC_REG_C];
	int64_t next = INT64_MAX;
	int shift = rtc_period_shift(s);

	/* Under HPET legacy replacement too: IRQF still reaches the ACPI
	 * RTC event (an alarm set to wake the machine from S3). */
	if (rtc_irq_flags(s)) {
		rtc_timer_set(r, INT64_MAX);
		return;
	}
	if ((b & RTC_B_PIE) && !(c & RTC_C_PF) && rtc_dividing(s) &&
	    shift >= 0) {
		int64_t k = rtc_period_index(s, now, shift) + 1;

		next = s->div_base_ns + rtc_ticks_to_ns(k << shift);
	}
	if (rtc_updating(s)) {
		int64_t sec = rtc_second_index(s, now);

		if ((b & RTC_B_UIE) && !(c & RTC_C_UF) &&
		    s->div_base_ns + (sec + 1) * NS_PER_SEC < next)
			next = s->div_base_ns + (sec + 1) * NS_PER_SEC;
		if ((b & RTC_B_AIE) && !(c & RTC_C_AF)) {
			int64_t at = rtc_next_alarm(s, s->sec_offset + sec);

			if (at != INT64_MAX &&
			    s->div_base_ns + (at - s->sec_offset) * NS_PER_SEC <
				next)
				next = s->div_base_ns +
				       (at - s->sec_offset) * NS_PER_SEC;
		}
	}
	rtc_timer_set(r, next);
}

static void rtc_timer_fired(void *opaque)
{
	struct rtc *r = opaque;
	int64_t now;

	pthread_mutex_lock(&r->lock);
	now = (int64_t)dev_host->clock_ns(r->m);
	r->armed_at = INT64_MAX; /* it fired */
	rtc_account(&r->s, now);
	rtc_update_irq(r, false);
	rtc_schedule(r, now);
	pthread_mutex_unlock(&r->lock);
}

/* --- registers --- */

static bool rtc_is_time_reg(unsigned idx)
{
	return idx == RTC_SEC || idx == RTC_MIN || idx == RTC_HOUR ||
	       idx == RTC_WDAY || idx == RTC_MDAY || idx == RTC_MONTH ||
	       idx == RTC_YEAR || idx == RTC_CENTURY;
}

/* New A and B values: stop or restart the clock and the divider. */
static void rtc_reconfigure(struct rtc_state *s, int64_t now, uint8_t a,
			    uint8_t b)
{
	bool was_updating = rtc_updating(s), was_dividing = rtc_dividing(s);
	bool was_reset = ((s->cmos[RTC_REG_A] >> RTC_A_DV_SHIFT) & 6) == 6;
	bool set_rising = (b & RTC_B_SET) && !(s->cmos[RTC_REG_B] & RTC_B_SET);
	int64_t secs = was_updating ? rtc_seconds(s, now) : 0;

	rtc_account(s, now);
	s->cmos[RTC_REG_A] = a & ~RTC_A_UIP;
	s->cmos[RTC_REG_B] = b;
	/* "The SET bit going high clears the UIE bit." */
	if (set_rising)
		s->cmos[RTC_REG_B] &= ~RTC_B_UIE;
	/* Leaving divider reset, the first update comes 500 ms later. */
	if (!was_dividing && was_reset && rtc_dividing(s)) {
		s->div_base_ns = now - NS_PER_SEC / 2;
		s->flags_checked_ns = now;
	}
	if (was_updating && !rtc_updating(s))
		rtc_store_time(s, secs);
	else if (!was_updating && rtc_updating(s))
		s->sec_offset = rtc_load_time(s) - rtc_second_index(s, now);
}

static uint8_t rtc_read(struct rtc *r, int64_t now)
{
	struct rtc_state *s = &r->s;
	unsigned idx = s->index;
	uint8_t v;

	if (rtc_is_time_reg(idx) && rtc_updating(s)) {
		struct rtc_state tmp = *s;

		rtc_store_time(&tmp, rtc_seconds(s, now));
		return tmp.cmos[idx];
	}
	switch (idx) {
	case RTC_REG_A:
		v = s->cmos[RTC_REG_A];
		if (rtc_updating(s) &&
		    now - s->div_base_ns -
			    rtc_second_index(s, now) * NS_PER_SEC >=
			NS_PER_SEC - RTC_UIP_NS)
			v |= RTC_A_UIP;
		return v;
	case RTC_REG_C:
		/* Reading C returns the flags and clears them all. */
		rtc_account(s, now);
		rtc_irqf_update(r);
		v = s->cmos[RTC_REG_C] & (RTC_C_PF | RTC_C_AF | RTC_C_UF);
		if (rtc_irq_flags(s))
			v |= RTC_C_IRQF;
		s->cmos[RTC_REG_C] = 0;
		return v;
	case RTC_REG_D:
		return RTC_D_VRT; /* the battery is always good */
	default:
		return s->cmos[idx];
	}
}

static void rtc_write(struct rtc *r, int64_t now, uint8_t v)
{
	struct rtc_state *s = &r->s;
	unsigned idx = s->index;

	switch (idx) {
	case RTC_REG_A:
		rtc_reconfigure(s, now, v, s->cmos[RTC_REG_B]);
		break;
	case RTC_REG_B:
		rtc_reconfigure(s, now, s->cmos[RTC_REG_A], v);
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		break; /* read-only */
	default:
		if (rtc_is_time_reg(idx) && rtc_updating(s)) {
			/* Setting one field of a running clock: the others
			 * keep their current values, the phase is kept. */
			rtc_account(s, now);
			rtc_store_time(s, rtc_seconds(s, now));
			s->cmos[idx] = v;
			s->sec_offset =
			    rtc_load_time(s) - rtc_second_index(s, now);
		} else {
			rtc_account(s, now);
			s->cmos[idx] = v;
		}
		break;
	}
}

static void rtc_pio(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
		    bool is_write)
{
	struct rtc *r = opaque;
	int64_t now;

	pthread_mutex_lock(&r->lock);
	now = (int64_t)dev_host->clock_ns(r->m);
	for (unsigned i = 0; i < len && offset + i < 2; i++) {
		if (offset + i == 0) {
			if (is_write) {
				r->s.index = data[i] & 0x7f;
				r->s.nmi_disabled = data[i] & 0x80;
			} else {
				/* Write-only on the chip; chipsets read back
				 * the index. */
				data[i] =
				    r->s.index | (r->s.nmi_disabled ? 0x80 : 0);
			}
		} else if (is_write) {
			rtc_write(r, now, data[i]);
		} else {
			data[i] = rtc_read(r, now);
		}
	}
	rtc_update_irq(r, false);
	rtc_schedule(r, now);
	pthread_mutex_unlock(&r->lock);
}

void rtc_set_hpet_legacy(struct device *dev, bool on)
{
	struct rtc *r = dev->priv;

	int64_t now;

	pthread_mutex_lock(&r->lock);
	now = (int64_t)dev_host->clock_ns(r->m);
	rtc_account(&r->s, now);
	r->hpet_legacy = on;
	rtc_update_irq(r, false);
	rtc_schedule(r, now);
	pthread_mutex_unlock(&r->lock);
}

void rtc_advance_seconds(struct device *dev, int64_t seconds)
{
	struct rtc *r = dev->priv;
	int64_t now;

	if (seconds <= 0 || seconds > (1LL << 40))
		return;
	pthread_mutex_lock(&r->lock);
	now = (int64_t)dev_host->clock_ns(r->m);
	rtc_account(&r->s, now);
	if (rtc_updating(&r->s))
		r->s.sec_offset += seconds;
	else
		rtc_store_time(&r->s, rtc_load_time(&r->s) + seconds);
	/* The skipped seconds raise no update or alarm flags. */
	r->s.flags_checked_ns = now;
	rtc_schedule(r, now);
	pthread_mutex_unlock(&r->lock);
}

/* --- lifecycle --- */

static void rtc_set_memory_size(struct rtc_state *s, const struct guest_mem *gm)
{
	uint64_t low = 0, high = 0, ext_kib, above16, above4g;

	for (unsigned i = 0; i < gm->nr_ranges; i++) {
		if (gm->ranges[i].gpa < GUEST_HIGH_RAM_START)
			low += gm->ranges[i].size;
		else
			high += gm->ranges[i].size;
	}
	/* Base memory 640 KiB; extended memory above 1 MiB in KiB (capped);
	 * 0x34-0x35: RAM above 16 MiB, 0x5b-0x5d: RAM above 4 GiB, both in
	 * 64 KiB units, as SeaBIOS-era PC BIOSes leave them. */
	ext_kib = low > (1 << 20) ? (low - (1 << 20)) >> 10 : 0;
	if (ext_kib > 0xffff)
		ext_kib = 0xffff;
	above16 = low > (16 << 20) ? (low - (16 << 20)) >> 16 : 0;
	if (above16 > 0xffff)
		above16 = 0xffff;
	above4g = high >> 16;
	if (above4g > 0xffffff)
		above4g = 0xffffff;
	s->cmos[0x15] = 640 & 0xff;
	s->cmos[0x16] = 640 >> 8;
	s->cmos[0x17] = s->cmos[0x30] = ext_kib & 0xff;
	s->cmos[0x18] = s->cmos[0x31] = (uint8_t)(ext_kib >> 8);
	s->cmos[0x34] = above16 & 0xff;
	s->cmos[0x35] = (uint8_t)(above16 >> 8);
	s->cmos[0x5b] = above4g & 0xff;
	s->cmos[0x5c] = (uint8_t)(above4g >> 8);
	s->cmos[0x5d] = (uint8_t)(above4g >> 16);
}

static void rtc_power_on(struct rtc *r)
{
	struct rtc_state *s = &r->s;
	int64_t now = (int64_t)dev_host->clock_ns(r->m), host;
	struct timespec ts;
	struct tm tm;
	unsigned sum = 0;

	memset(s, 0, sizeof(*s));
	rtc_set_memory_size(s, &r->m->mem);
	s->cmos[0x14] = 0x02; /* equipment byte: FPU present, EGA/VGA */
	/* Standard CMOS checksum over 0x10-0x2d, big-endian at 0x2e. */
	for (unsigned i = 0x10; i <= 0x2d; i++)
		sum += s->cmos[i];
	s->cmos[0x2e] = (uint8_t)(sum >> 8);
	s->cmos[0x2f] = (uint8_t)sum;
	s->cmos[RTC_REG_A] = RTC_DV_32KHZ << RTC_A_DV_SHIFT | 6; /* 1024 Hz */
	s->cmos[RTC_REG_B] = RTC_B_24H;
	s->index = RTC_REG_D;

	clock_gettime(CLOCK_REALTIME, &ts);
	host = ts.tv_sec;
	if (!r->m->cfg.rtc_utc && localtime_r(&ts.tv_sec, &tm))
		host += tm.tm_gmtoff;
	/* Tick in phase with the host's seconds. */
	s->div_base_ns = now - ts.tv_nsec;
	s->sec_offset = host - rtc_second_index(s, now);
	s->flags_checked_ns = now;
	rtc_store_time(s, host); /* century byte, and the time if stopped */
}

static void rtc_reset(struct device *dev)
{
	struct rtc *r = dev->priv;

	/* The RESET pin clears the interrupt enables and flags; the time
	 * and the RAM are battery-backed and survive. */
	pthread_mutex_lock(&r->lock);
	r->s.cmos[RTC_REG_B] &= ~(RTC_B_PIE | RTC_B_AIE | RTC_B_UIE);
	r->s.cmos[RTC_REG_C] = 0;
	rtc_update_irq(r, true);
	rtc_schedule(r, (int64_t)dev_host->clock_ns(r->m));
	pthread_mutex_unlock(&r->lock);
}

static void rtc_destroy(struct device *dev)
{
	struct rtc *r = dev->priv;

	if (!r)
		return;
	if (r->timer)
		dev_host->timer_free(r->timer);
	pthread_mutex_destroy(&r->lock);
	free(r);
	dev->priv = NULL;
}

static int rtc_create(struct machine *m, struct device *dev,
		      const struct dev_opts *opts, struct hyve_err *err)
{
	struct rtc *r = calloc(1, sizeof(*r));
	int ret;

	(void)opts;
	if (!r)
		return err_set(err, ENOMEM, "rtc: out of memory");
	pthread_mutex_init(&r->lock, NULL);
	r->m = m;
	r->armed_at = INT64_MAX;
	dev->priv = r;
	r->timer = dev_host->timer_new(m, rtc_timer_fired, r);
	if (!r->timer) {
		ret = err_set(err, ENOMEM, "rtc: cannot create its timer");
		goto out_destroy;
	}
	rtc_power_on(r);
	ret = bus_register(&m->pio, RTC_PORT, 2, rtc_pio, r, "rtc", err);
	if (ret < 0)
		goto out_destroy;
	return 0;
out_destroy:
	rtc_destroy(dev);
	return ret;
}

static int rtc_save(struct device *dev, void *state, struct hyve_err *err)
{
	struct rtc *r = dev->priv;

	(void)err;
	pthread_mutex_lock(&r->lock);
	rtc_account(&r->s, (int64_t)dev_host->clock_ns(r->m));
	memcpy(state, &r->s, sizeof(r->s));
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static int rtc_check(const void *staged, struct hyve_err *err)
{
	const struct rtc_state *s = staged;

	if (s->index > 0x7f)
		return err_set(err, EINVAL, "rtc: index 0x%x out of range",
			       s->index);
	if (s->cmos[RTC_REG_A] & RTC_A_UIP ||
	    s->cmos[RTC_REG_C] & ~(RTC_C_PF | RTC_C_AF | RTC_C_UF))
		return err_set(
		    err, EINVAL,
		    "rtc: register A 0x%x or C 0x%x has derived bits set",
		    s->cmos[RTC_REG_A], s->cmos[RTC_REG_C]);
	/* Keep the arithmetic far from overflow: a century of seconds and
	 * guest-clock instants within +-2^62 ns. */
	if (s->sec_offset < -(1LL << 40) || s->sec_offset > (1LL << 40) ||
	    s->div_base_ns < -(1LL << 62) || s->div_base_ns > (1LL << 62) ||
	    s->flags_checked_ns < -(1LL << 62) ||
	    s->flags_checked_ns > (1LL << 62))
		return err_set(err, EINVAL, "rtc: time base out of range");
	return 0;
}

static int rtc_load(struct device *dev, const void *staged,
		    struct hyve_err *err)
{
	struct rtc *r = dev->priv;

	(void)err;
	pthread_mutex_lock(&r->lock);
	memcpy(&r->s, staged, sizeof(r->s));
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static int rtc_post_load(struct device *dev, struct hyve_err *err)
{
	struct rtc *r = dev->priv;

	(void)err;
	pthread_mutex_lock(&r->lock);
	/* An interrupt pending in the saved state was an event then. */
	r->irqf = rtc_irq_flags(&r->s) != 0;
	rtc_update_irq(r, true);
	rtc_schedule(r, (int64_t)dev_host->clock_ns(r->m));
	pthread_mutex_unlock(&r->lock);
	/* hyve -r --restore-wallclock: the date moves on by the real time
	 * the snapshot spent on disk (the guest's monotonic clocks do not). */
	if (dev->machine && dev->machine->restored && dev->machine->cfg.restore_wallclock)
		rtc_advance_seconds(dev, dev->machine->restore_wall_elapsed_ns / 1000000000);
	return 0;
}

static int rtc_quiesce(struct device *dev, struct hyve_err *err)
{
	struct rtc *r = dev->priv;

	(void)err;
	pthread_mutex_lock(&r->lock);
	rtc_timer_set(r, INT64_MAX);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static void rtc_resume(struct device *dev)
{
	struct rtc *r = dev->priv;

	pthread_mutex_lock(&r->lock);
	rtc_schedule(r, (int64_t)dev_host->clock_ns(r->m));
	pthread_mutex_unlock(&r->lock);
}

static unsigned rtc_builtin_count(const struct machine *m)
{
	(void)m;
	return 1;
}

static const struct device_type rtc_type = {
    .name = "rtc",
    .create = rtc_create,
    .destroy = rtc_destroy,
    .reset = rtc_reset,
    .state = &rtc_state_desc,
    .save = rtc_save,
    .check = rtc_check,
    .load = rtc_load,
    .quiesce = rtc_quiesce,
    .post_load = rtc_post_load,
    .resume = rtc_resume,
    .builtin_count = rtc_builtin_count,
    .sleep_powered = true,
};

DEVICE_TYPE_REGISTER(rtc_type);

/* ACPI power-management timer and PM1a event/control blocks (the FADT's
 * PM_TMR_BLK, PM1a_EVT_BLK and PM1a_CNT_BLK; include/hyve/boot.h).
 *
 * The counter is a pure function of the guest clock: 3.579545 MHz ticks
 * since power-on, 32 bits wide (FADT TMR_VAL_EXT).  TMR_STS is set each
 * time bit 31 toggles; it is accounted lazily from the number of toggles
 * seen so far, and a timer is armed for the next toggle only when TMR_EN
 * asks for an SCI.  SCI (IRQ 9, level) = PM1_STS & PM1_EN for the timer,
 * the power button and the RTC alarm.  SCI_EN is always set: there is no
 * SMI_CMD, so the platform is in ACPI mode from reset.
 *
 * Sleeping states.  SLP_TYP 5 (\_S5) with SLP_EN powers the machine off;
 * SLP_TYP 3 (\_S3) suspends it to RAM: this device records the sleeping
 * state (saved, so a snapshot of a sleeping machine restores asleep) and
 * asks the machine to stop every vCPU.  A wake event ends it: the RTC
 * raising its interrupt (RTC_STS) while RTC_EN is set, the power button
 * (in a sleeping state it wakes whatever PWRBTN_EN says), or the host
 * (hyvectl --wake).  The wake sets WAK_STS and asks the machine to reset
 * the vCPUs to the FACS waking vector.  This device and the RTC keep their
 * state through S3 (the suspend well and the battery); the rest of the
 * platform is reset.  ACPI 6.4, 4.8.3 (PM1 event/control, table 4.13 and
 * 4.16), 4.8.3.3 (timer), 7.4.2 (sleeping states), 16.1 (wake). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/dev_host.h"
#include "dev/pmtimer.h"
#include "hyve/boot.h"
#include "hyve/machine.h"

#define PM_TIMER_HZ 3579545ULL
#define NS_PER_SEC  1000000000ULL

#define PM1_STS_TMR    0x0001
#define PM1_STS_PWRBTN 0x0100
#define PM1_STS_RTC    0x0400
#define PM1_STS_WAK    0x8000
#define PM1_STS_KEPT   (PM1_STS_TMR | PM1_STS_PWRBTN | PM1_STS_RTC | PM1_STS_WAK)
/* Status bits that raise the SCI when their enable bit is set. */
#define PM1_STS_SCI (PM1_STS_TMR | PM1_STS_PWRBTN | PM1_STS_RTC)
#define PM1_EN_TMR     0x0001
#define PM1_EN_GBL     0x0020
#define PM1_EN_PWRBTN  0x0100
#define PM1_EN_SLPBTN  0x0200
#define PM1_EN_RTC     0x0400
#define PM1_EN_KEPT                                                            \
	(PM1_EN_TMR | PM1_EN_GBL | PM1_EN_PWRBTN | PM1_EN_SLPBTN | PM1_EN_RTC)
#define PM1_CNT_SCI_EN	0x0001
#define PM1_CNT_BM_RLD	0x0002
#define PM1_CNT_SLP_TYP 0x1c00
#define PM1_CNT_KEPT	(PM1_CNT_SCI_EN | PM1_CNT_BM_RLD | PM1_CNT_SLP_TYP)

/* Offsets in the 12 ports from ACPI_PM1A_EVT_BLK. */
#define PM_OFF_STS 0
#define PM_OFF_EN  2
#define PM_OFF_CNT 4
#define PM_OFF_TMR 8
#define PM_PORTS   12

_Static_assert(ACPI_PM1A_CNT_BLK == ACPI_PM1A_EVT_BLK + PM_OFF_CNT &&
		   ACPI_PM_TMR_BLK == ACPI_PM1A_EVT_BLK + PM_OFF_TMR,
	       "PM1 blocks must be laid out as this model expects");

struct pmtimer_state {
	uint64_t clock_base_ns; /* guest clock when the counter read 0 */
	uint64_t toggles_seen;	/* bit-31 toggles accounted into TMR_STS */
	uint16_t pm1_sts;
	uint16_t pm1_en;
	uint16_t pm1_cnt;
	/* The ACPI system state: 0 working (S0), 3 sleeping (S3).  New in
	 * version 2; a version 1 section (written before hyve had S3) loads
	 * as 0, which it always was. */
	uint8_t sleep_state;
};

static const struct state_field pmtimer_fields[] = {
    FIELD_U64(struct pmtimer_state, clock_base_ns, 1),
    FIELD_U64(struct pmtimer_state, toggles_seen, 1),
    FIELD_U16(struct pmtimer_state, pm1_sts, 1),
    FIELD_U16(struct pmtimer_state, pm1_en, 1),
    FIELD_U16(struct pmtimer_state, pm1_cnt, 1),
    FIELD_U8(struct pmtimer_state, sleep_state, 2),
    FIELD_END};

static const struct state_desc pmtimer_state_desc =
    STATE_DESC("pmtimer", struct pmtimer_state, 2, pmtimer_fields);

struct pmtimer {
	pthread_mutex_t lock;
	struct machine *m;
	struct hyve_timer *timer;
	bool sci_level;
	uint64_t armed_at; /* deadline the host timer holds, 0 = none */
	struct pmtimer_state s;
};

/* Ticks since power-on (not wrapped); exact for centuries of guest time. */
static uint64_t pmtimer_ticks(const struct pmtimer_state *s, uint64_t now)
{
	uint64_t d = now > s->clock_base_ns ? now - s->clock_base_ns : 0;

	return d / NS_PER_SEC * PM_TIMER_HZ +
	       d % NS_PER_SEC * PM_TIMER_HZ / NS_PER_SEC;
}

/* Guest-clock instant at which the tick count reaches `ticks`. */
static uint64_t pmtimer_ticks_to_clock(const struct pmtimer_state *s,
				       uint64_t ticks)
{
	return s->clock_base_ns + ticks / PM_TIMER_HZ * NS_PER_SEC +
	       (ticks % PM_TIMER_HZ * NS_PER_SEC + PM_TIMER_HZ - 1) /
		   PM_TIMER_HZ;
}

static void pmtimer_account(struct pmtimer_state *s, uint64_t now)
{
	uint64_t toggles = pmtimer_ticks(s, now) >> 31;

	if (toggles > s->toggles_seen) {
		s->pm1_sts |= PM1_STS_TMR;
		s->toggles_seen = toggles;
	}
}

static void pmtimer_update(struct pmtimer *p, bool force)
{
	uint64_t deadline = 0;

	struct pmtimer_state *s = &p->s;
	uint16_t pending = s->pm1_sts & s->pm1_en & PM1_STS_SCI;
	bool level = pending && (s->pm1_cnt & PM1_CNT_SCI_EN);

	if (level != p->sci_level || force) {
		p->sci_level = level;
		dev_host->irq_set(p->m, ACPI_SCI_IRQ, level);
	}
	/* Only an enabled, not yet pending timer event needs a host timer:
	 * the next toggle is at most ~600 s away. */
	if ((s->pm1_en & PM1_EN_TMR) && !(s->pm1_sts & PM1_STS_TMR))
		deadline =
		    pmtimer_ticks_to_clock(s, (s->toggles_seen + 1) << 31);
	if (deadline == p->armed_at)
		return; /* the PM timer is read often: no syscall per read */
	p->armed_at = deadline;
	if (deadline)
		dev_host->timer_arm(p->timer, deadline);
	else
		dev_host->timer_disarm(p->timer);
}

static void pmtimer_timer_fired(void *opaque)
{
	struct pmtimer *p = opaque;
	uint64_t now;

	pthread_mutex_lock(&p->lock);
	now = dev_host->clock_ns(p->m);
	p->armed_at = 0; /* it fired */
	pmtimer_account(&p->s, now);
	pmtimer_update(p, false);
	pthread_mutex_unlock(&p->lock);
}

static uint16_t pmtimer_reg_read(struct pmtimer *p, unsigned reg, uint64_t now)
{
	switch (reg) {
	case PM_OFF_STS:
		return p->s.pm1_sts;
	case PM_OFF_EN:
		return p->s.pm1_en;
	case PM_OFF_CNT:
		return p->s.pm1_cnt; /* SLP_EN and GBL_RLS read as 0 */
	case PM_OFF_TMR:
		return (uint16_t)pmtimer_ticks(&p->s, now);
	case PM_OFF_TMR + 2:
		return (uint16_t)(pmtimer_ticks(&p->s, now) >> 16);
	default:
		return 0; /* reserved */
	}
}

/* SLP_EN written: enter the state SLP_TYP names.  S1, S2 and S4 are not
 * in the DSDT, so an OS never asks for them: ignored. */
static void pmtimer_sleep(struct pmtimer *p)
{
	unsigned typ = (p->s.pm1_cnt & PM1_CNT_SLP_TYP) >>
		       ACPI_PM1_CNT_SLP_TYP_SHIFT;

	if (typ == ACPI_SLP_TYP_S5) {
		dev_host->request_exit(p->m, HYVE_EXIT_POWEROFF,
				       "guest powered off (ACPI S5)");
	} else if (typ == ACPI_SLP_TYP_S3 && p->s.sleep_state == 0) {
		p->s.sleep_state = 3;
		dev_host->power_state(p->m, 3);
	}
}

/* The way back to S0 (ACPI 6.4, 16.1.6): WAK_STS set for the OS to see,
 * and the machine resets the processors to the waking vector. */
static void pmtimer_wake(struct pmtimer *p)
{
	p->s.sleep_state = 0;
	p->s.pm1_sts |= PM1_STS_WAK;
	p->s.pm1_cnt &= (uint16_t)~PM1_CNT_SLP_TYP;
	dev_host->power_state(p->m, 0);
}

/* A write of `v` to the bytes of 16-bit register `reg` selected by mask. */
static void pmtimer_reg_write(struct pmtimer *p, unsigned reg, uint16_t v,
			      uint16_t mask)
{
	struct pmtimer_state *s = &p->s;

	switch (reg) {
	case PM_OFF_STS:
		s->pm1_sts &= ~(v & mask & PM1_STS_KEPT); /* write 1 to clear */
		break;
	case PM_OFF_EN:
		s->pm1_en =
		    (uint16_t)((s->pm1_en & ~mask) | (v & mask & PM1_EN_KEPT));
		break;
	case PM_OFF_CNT:
		s->pm1_cnt = (uint16_t)((s->pm1_cnt & ~mask) |
					(v & mask & PM1_CNT_KEPT));
		s->pm1_cnt |= PM1_CNT_SCI_EN;
		if (v & mask & ACPI_PM1_CNT_SLP_EN)
			pmtimer_sleep(p);
		break;
	default:
		break; /* the timer is read-only */
	}
}

static void pmtimer_pio(void *opaque, uint64_t offset, uint8_t *data,
			unsigned len, bool is_write)
{
	struct pmtimer *p = opaque;
	uint64_t now;

	pthread_mutex_lock(&p->lock);
	now = dev_host->clock_ns(p->m);
	pmtimer_account(&p->s, now);
	/* Each 16-bit register sees the bytes of the access that fall in
	 * it, so byte, word and dword accesses at any offset behave alike. */
	for (unsigned i = 0; i < len;) {
		unsigned pos = (unsigned)offset + i, reg = pos & ~1u,
			 lane = pos & 1;
		unsigned n = (lane == 0 && i + 1 < len) ? 2 : 1;

		if (pos >= PM_PORTS)
			break;
		if (is_write) {
			uint16_t v = 0, mask = 0;

			for (unsigned b = 0; b < n; b++) {
				v |=
				    (uint16_t)(data[i + b] << (8 * (lane + b)));
				mask |= (uint16_t)(0xff << (8 * (lane + b)));
			}
			pmtimer_reg_write(p, reg, v, mask);
		} else {
			uint16_t v = pmtimer_reg_read(p, reg, now);

			for (unsigned b = 0; b < n; b++)
				data[i + b] = (uint8_t)(v >> (8 * (lane + b)));
		}
		i += n;
	}
	pmtimer_update(p, false);
	pthread_mutex_unlock(&p->lock);
}

bool pmtimer_event(struct device *dev, enum acpi_pm_event ev)
{
	struct pmtimer *p = dev->priv;
	bool sleeping, wake = false;

	pthread_mutex_lock(&p->lock);
	pmtimer_account(&p->s, dev_host->clock_ns(p->m));
	sleeping = p->s.sleep_state != 0;
	switch (ev) {
	case ACPI_PM_EVENT_RTC:
		p->s.pm1_sts |= PM1_STS_RTC;
		wake = sleeping && (p->s.pm1_en & PM1_EN_RTC);
		break;
	case ACPI_PM_EVENT_POWER_BUTTON:
		/* "In the sleeping or soft-off state, a wake event is
		 * generated when the power button is pressed (regardless of
		 * the PWRBTN_EN bit setting)" (table 4.13). */
		p->s.pm1_sts |= PM1_STS_PWRBTN;
		wake = sleeping;
		break;
	case ACPI_PM_EVENT_WAKE:
		wake = sleeping;
		break;
	}
	if (wake)
		pmtimer_wake(p);
	pmtimer_update(p, false);
	pthread_mutex_unlock(&p->lock);
	return wake;
}

void pmtimer_power_button(struct device *dev)
{
	pmtimer_event(dev, ACPI_PM_EVENT_POWER_BUTTON);
}

int acpi_pm_event(struct machine *m, enum acpi_pm_event ev)
{
	struct device *dev = machine_find_device(m, "pmtimer", 0);

	return dev ? pmtimer_event(dev, ev) : -ENODEV;
}

bool pmtimer_sleeping(struct device *dev)
{
	struct pmtimer *p = dev->priv;
	bool sleeping;

	pthread_mutex_lock(&p->lock);
	sleeping = p->s.sleep_state != 0;
	pthread_mutex_unlock(&p->lock);
	return sleeping;
}

static void pmtimer_reset_state(struct pmtimer *p)
{
	memset(&p->s, 0, sizeof(p->s));
	p->s.clock_base_ns = dev_host->clock_ns(p->m);
	p->s.pm1_cnt = PM1_CNT_SCI_EN;
}

static void pmtimer_reset(struct device *dev)
{
	struct pmtimer *p = dev->priv;

	pthread_mutex_lock(&p->lock);
	pmtimer_reset_state(p);
	pmtimer_update(p, true);
	pthread_mutex_unlock(&p->lock);
}

static void pmtimer_destroy(struct device *dev)
{
	struct pmtimer *p = dev->priv;

	if (!p)
		return;
	if (p->timer)
		dev_host->timer_free(p->timer);
	pthread_mutex_destroy(&p->lock);
	free(p);
	dev->priv = NULL;
}

static int pmtimer_create(struct machine *m, struct device *dev,
			  const struct dev_opts *opts, struct hyve_err *err)
{
	struct pmtimer *p = calloc(1, sizeof(*p));
	int ret;

	(void)opts;
	if (!p)
		return err_set(err, ENOMEM, "pmtimer: out of memory");
	pthread_mutex_init(&p->lock, NULL);
	p->m = m;
	dev->priv = p;
	p->timer = dev_host->timer_new(m, pmtimer_timer_fired, p);
	if (!p->timer) {
		ret = err_set(err, ENOMEM, "pmtimer: cannot create its timer");
		goto out_destroy;
	}
	pmtimer_reset_state(p);
	ret = bus_register(&m->pio, ACPI_PM1A_EVT_BLK, PM_PORTS, pmtimer_pio, p,
			   "pmtimer", err);
	if (ret < 0)
		goto out_destroy;
	return 0;
out_destroy:
	pmtimer_destroy(dev);
	return ret;
}

static int pmtimer_save(struct device *dev, void *state, struct hyve_err *err)
{
	struct pmtimer *p = dev->priv;

	(void)err;
	pthread_mutex_lock(&p->lock);
	pmtimer_account(&p->s, dev_host->clock_ns(p->m));
	memcpy(state, &p->s, sizeof(p->s));
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static int pmtimer_check(const void *staged, struct hyve_err *err)
{
	const struct pmtimer_state *s = staged;

	if ((s->pm1_sts & ~PM1_STS_KEPT) || (s->pm1_en & ~PM1_EN_KEPT) ||
	    (s->pm1_cnt & ~PM1_CNT_KEPT) || !(s->pm1_cnt & PM1_CNT_SCI_EN))
		return err_set(
		    err, EINVAL,
		    "pmtimer: reserved bits in PM1 status 0x%x, enable 0x%x "
		    "or control 0x%x",
		    s->pm1_sts, s->pm1_en, s->pm1_cnt);
	if (s->sleep_state != 0 && s->sleep_state != 3)
		return err_set(err, EINVAL,
			       "pmtimer: sleeping state S%u (hyve has S0 and "
			       "S3)",
			       s->sleep_state);
	if (s->clock_base_ns > (1ULL << 62) || s->toggles_seen > (1ULL << 32))
		return err_set(err, EINVAL, "pmtimer: time base out of range");
	return 0;
}

static int pmtimer_load(struct device *dev, const void *staged,
			struct hyve_err *err)
{
	struct pmtimer *p = dev->priv;

	(void)err;
	pthread_mutex_lock(&p->lock);
	memcpy(&p->s, staged, sizeof(p->s));
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static int pmtimer_post_load(struct device *dev, struct hyve_err *err)
{
	struct pmtimer *p = dev->priv;

	(void)err;
	pthread_mutex_lock(&p->lock);
	pmtimer_update(p, true);
	/* A machine saved asleep restores asleep: its vCPUs do not run
	 * until a wake event. */
	if (p->s.sleep_state)
		dev_host->power_state(p->m, p->s.sleep_state);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static int pmtimer_quiesce(struct device *dev, struct hyve_err *err)
{
	struct pmtimer *p = dev->priv;

	(void)err;
	pthread_mutex_lock(&p->lock);
	dev_host->timer_disarm(p->timer);
	p->armed_at = 0;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static void pmtimer_resume(struct device *dev)
{
	struct pmtimer *p = dev->priv;

	pthread_mutex_lock(&p->lock);
	pmtimer_update(p, false);
	pthread_mutex_unlock(&p->lock);
}

static unsigned pmtimer_builtin_count(const struct machine *m)
{
	(void)m;
	return 1;
}

static const struct device_type pmtimer_type = {
    .name = "pmtimer",
    .create = pmtimer_create,
    .destroy = pmtimer_destroy,
    .reset = pmtimer_reset,
    .state = &pmtimer_state_desc,
    .save = pmtimer_save,
    .check = pmtimer_check,
    .load = pmtimer_load,
    .quiesce = pmtimer_quiesce,
    .post_load = pmtimer_post_load,
    .resume = pmtimer_resume,
    .builtin_count = pmtimer_builtin_count,
    .sleep_powered = true,
};

DEVICE_TYPE_REGISTER(pmtimer_type);

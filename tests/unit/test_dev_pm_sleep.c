/* ACPI S3 in the PM device (src/dev/pmtimer.c) and the RTC's part in it
 * (src/dev/rtc.c), on the fake machine: SLP_TYP=S3 with SLP_EN asks the
 * machine to sleep, the wake events (RTC alarm with RTC_EN, the power
 * button, the host) wake it with WAK_STS set, and the sleeping state is
 * saved: a v2 section restores asleep, a v1 one (the golden VM fixture,
 * from before S3) restores awake. */
#include <stddef.h>
#include <stdio.h>

#include "check.h"
#include "dev/pmtimer.h"
#include "dev/rtc.h"
#include "dev/rtc_clock.h"
#include "dev_fake.h"
#include "hyve/boot.h"
#include "hyve/snapshot.h"

#define SEC 1000000000ULL
#define STS ACPI_PM1A_EVT_BLK
#define EN  (ACPI_PM1A_EVT_BLK + 2)
#define CNT ACPI_PM1A_CNT_BLK
#define S3  ((ACPI_SLP_TYP_S3 << 10) | (1 << 13))

#define PM1_STS_PWRBTN 0x0100
#define PM1_STS_RTC    0x0400
#define PM1_STS_WAK    0x8000
#define PM1_EN_RTC     0x0400

#define VM_FIXTURE "tests/fixtures/vm-v1/snapcount-2cpu"

static struct machine m;

static struct device *pm_setup(void)
{
	fake_machine_init(&m, 64 << 20);
	return fake_add(&m, "pmtimer", 0);
}

static void test_pm_s3_write_asks_the_machine_to_sleep_once(void)
{
	struct device *dev;

	CHECK((dev = pm_setup()) != NULL);
	/* SLP_TYP alone (ACPICA's first write) is not a sleep. */
	pio_write(&m, CNT, ACPI_SLP_TYP_S3 << 10, 2);
	CHECK_EQ(fake.power_calls, 0);
	CHECK(!pmtimer_sleeping(dev));
	pio_write(&m, CNT, S3, 2);
	CHECK_EQ(fake.power_calls, 1);
	CHECK_EQ(fake.power_state, 3);
	CHECK(pmtimer_sleeping(dev));
	CHECK_EQ(fake.exits, 0);
	/* Written again while asleep (a vCPU not yet stopped): no news. */
	pio_write(&m, CNT, S3, 2);
	CHECK_EQ(fake.power_calls, 1);
	fake_machine_destroy(&m);
}

static void test_pm_rtc_event_wakes_only_with_rtc_en(void)
{
	struct device *dev;

	CHECK((dev = pm_setup()) != NULL);
	pio_write(&m, CNT, S3, 2);
	CHECK_EQ(acpi_pm_event(&m, ACPI_PM_EVENT_RTC), 0);
	CHECK(pmtimer_sleeping(dev));
	CHECK_EQ(pio_read(&m, STS, 2), PM1_STS_RTC);
	CHECK_EQ(fake.irq[9], 0);
	pio_write(&m, STS, PM1_STS_RTC, 2);
	pio_write(&m, EN, PM1_EN_RTC, 2);
	CHECK_EQ(acpi_pm_event(&m, ACPI_PM_EVENT_RTC), 1);
	CHECK(!pmtimer_sleeping(dev));
	CHECK_EQ(fake.power_calls, 2);
	CHECK_EQ(fake.power_state, 0);
	CHECK_EQ(pio_read(&m, STS, 2), PM1_STS_WAK | PM1_STS_RTC);
	CHECK_EQ(pio_read(&m, CNT, 2), 1); /* back in S0: SLP_TYP clear */
	CHECK_EQ(fake.irq[9], 1);	   /* RTC_STS & RTC_EN: an SCI */
	pio_write(&m, STS, PM1_STS_WAK | PM1_STS_RTC, 2);
	CHECK_EQ(pio_read(&m, STS, 2), 0);
	CHECK_EQ(fake.irq[9], 0);
	/* Awake, an RTC event is just an SCI. */
	CHECK_EQ(acpi_pm_event(&m, ACPI_PM_EVENT_RTC), 0);
	CHECK_EQ(fake.irq[9], 1);
	CHECK_EQ(fake.power_calls, 2);
	fake_machine_destroy(&m);
}

static void test_pm_power_button_wakes_whatever_pwrbtn_en(void)
{
	struct device *dev;

	CHECK((dev = pm_setup()) != NULL);
	pio_write(&m, CNT, S3, 2);
	pmtimer_power_button(dev);
	CHECK(!pmtimer_sleeping(dev));
	CHECK_EQ(fake.power_state, 0);
	CHECK_EQ(pio_read(&m, STS, 2), PM1_STS_WAK | PM1_STS_PWRBTN);
	CHECK_EQ(fake.irq[9], 0); /* PWRBTN_EN clear: no SCI */
	fake_machine_destroy(&m);
}

static void test_pm_host_wake_only_when_sleeping(void)
{
	CHECK(pm_setup() != NULL);
	CHECK_EQ(acpi_pm_event(&m, ACPI_PM_EVENT_WAKE), 0);
	CHECK_EQ(fake.power_calls, 0);
	CHECK_EQ(pio_read(&m, STS, 2), 0);
	pio_write(&m, CNT, S3, 2);
	CHECK_EQ(acpi_pm_event(&m, ACPI_PM_EVENT_WAKE), 1);
	CHECK_EQ(pio_read(&m, STS, 2), PM1_STS_WAK);
	CHECK_EQ(fake.power_calls, 2);
	fake_machine_destroy(&m);
	/* No PM device, no wake. */
	fake_machine_init(&m, 64 << 20);
	CHECK_EQ(acpi_pm_event(&m, ACPI_PM_EVENT_WAKE), -ENODEV);
	fake_machine_destroy(&m);
}

static const struct state_field *field_named(const struct state_desc *d,
					     const char *name)
{
	for (const struct state_field *f = d->fields; f->name; f++)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

static void test_pm_sleeping_state_saved_and_restored_asleep(void)
{
	struct device *dev;
	const struct state_field *f;
	void *state = NULL;

	CHECK((dev = pm_setup()) != NULL);
	CHECK_EQ(dev->type->state->version, 2);
	f = field_named(dev->type->state, "sleep_state");
	CHECK(f != NULL && f->since == 2 && f->def == 0);
	pio_write(&m, EN, PM1_EN_RTC, 2);
	pio_write(&m, CNT, S3, 2);
	CHECK(fake_save_check(dev, &state) == 0);
	CHECK(fake_wire_roundtrip(dev->type->state, state));
	CHECK(f && ((uint8_t *)state)[f->offset] == 3);
	/* Into a fresh machine: it is asleep before anything runs. */
	fake_machine_destroy(&m);
	CHECK((dev = pm_setup()) != NULL);
	CHECK(fake_load(dev, state) == 0);
	CHECK_EQ(fake.power_calls, 1);
	CHECK_EQ(fake.power_state, 3);
	CHECK(pmtimer_sleeping(dev));
	CHECK_EQ(pio_read(&m, EN, 2), PM1_EN_RTC);
	/* A sleeping state hyve does not have is refused. */
	if (f) {
		struct hyve_err err = {0};

		((uint8_t *)state)[f->offset] = 4;
		CHECK(dev->type->check(state, &err) < 0);
		CHECK(strstr(err.msg, "S4") != NULL);
	}
	free(state);
	fake_machine_destroy(&m);
}

/* The golden VM fixture was written by hyve 0.1.0, pmtimer v1 without
 * sleep_state: it decodes with today's table, awake, and passes check. */
static void test_pm_v1_fixture_section_restores_awake(void)
{
	const struct device_type *t = device_type_find("pmtimer");
	const struct snap_section *sec;
	struct hyve_err err = {0};
	struct snap_reader *r;
	const struct state_field *f;
	uint8_t *s;

	CHECK(t != NULL);
	if (!t || snap_reader_open(&r, VM_FIXTURE, &err)) {
		printf("  %s\n", err.msg);
		CHECK(!"fixture opens");
		return;
	}
	sec = snap_find_section(r, "pmtimer", 0);
	CHECK(sec != NULL && sec->version == 1);
	s = calloc(1, t->state->size);
	f = field_named(t->state, "sleep_state");
	memset(s, 0xa5, t->state->size);
	CHECK_EQ(snap_decode_section(r, sec, t->state, s, &err), 0);
	CHECK(f && s[f->offset] == 0);
	CHECK_EQ(t->check(s, &err), 0);
	if (err.code)
		printf("  %s\n", err.msg);
	free(s);
	snap_reader_close(r);
}

/* RTC alarm -> RTC_STS -> wake, with the alarm seconds only (hours and
 * minutes "don't care", 0xC0): the RTC raises the event at its edge. */
static void test_rtc_alarm_raises_rtc_sts_and_wakes(void)
{
	struct device *pm;

	CHECK((pm = pm_setup()) != NULL);
	CHECK(fake_add(&m, "rtc", 0) != NULL);
	/* Binary mode, 24 h; alarm at the next second of any minute. */
	pio_write(&m, 0x70, RTC_REG_B, 1);
	pio_write(&m, 0x71, RTC_B_24H | RTC_B_DM_BINARY, 1);
	pio_write(&m, 0x70, RTC_SEC, 1);
	{
		uint8_t sec = (uint8_t)pio_read(&m, 0x71, 1);

		pio_write(&m, 0x70, RTC_SEC_ALARM, 1);
		pio_write(&m, 0x71, (sec + 2) % 60, 1);
	}
	pio_write(&m, 0x70, RTC_MIN_ALARM, 1);
	pio_write(&m, 0x71, 0xc0, 1);
	pio_write(&m, 0x70, RTC_HOUR_ALARM, 1);
	pio_write(&m, 0x71, 0xc0, 1);
	pio_write(&m, 0x70, RTC_REG_C, 1);
	pio_read(&m, 0x71, 1);
	pio_write(&m, 0x70, RTC_REG_B, 1);
	pio_write(&m, 0x71, RTC_B_24H | RTC_B_DM_BINARY | RTC_B_AIE, 1);
	pio_write(&m, EN, PM1_EN_RTC, 2);
	pio_write(&m, CNT, S3, 2);
	fake_run_until(fake.now + SEC / 2);
	CHECK(pmtimer_sleeping(pm));
	fake_run_until(fake.now + 3 * SEC);
	CHECK(!pmtimer_sleeping(pm));
	CHECK_EQ(fake.power_state, 0);
	CHECK_EQ(pio_read(&m, STS, 2), PM1_STS_WAK | PM1_STS_RTC);
	fake_machine_destroy(&m);
}

/* HPET legacy replacement takes IRQ 8 from the RTC but not its ACPI
 * event: an alarm still wakes (as Linux relies on: its RTC interrupts go
 * through the HPET, its S3 wake alarm through RTC_STS). */
static void test_rtc_alarm_wakes_under_hpet_legacy(void)
{
	struct device *pm, *rtc;

	CHECK((pm = pm_setup()) != NULL);
	CHECK((rtc = fake_add(&m, "rtc", 0)) != NULL);
	rtc_set_hpet_legacy(rtc, true);
	pio_write(&m, 0x70, RTC_REG_B, 1);
	pio_write(&m, 0x71, RTC_B_24H | RTC_B_DM_BINARY, 1);
	pio_write(&m, 0x70, RTC_SEC_ALARM, 1);
	pio_write(&m, 0x71, 0xc0, 1); /* every second */
	pio_write(&m, 0x70, RTC_MIN_ALARM, 1);
	pio_write(&m, 0x71, 0xc0, 1);
	pio_write(&m, 0x70, RTC_HOUR_ALARM, 1);
	pio_write(&m, 0x71, 0xc0, 1);
	pio_write(&m, 0x70, RTC_REG_B, 1);
	pio_write(&m, 0x71, RTC_B_24H | RTC_B_DM_BINARY | RTC_B_AIE, 1);
	pio_write(&m, EN, PM1_EN_RTC, 2);
	pio_write(&m, CNT, S3, 2);
	fake_run_until(fake.now + 2 * SEC);
	CHECK(!pmtimer_sleeping(pm));
	CHECK_EQ(fake.irq[8], 0); /* the line stays the HPET's */
	fake_machine_destroy(&m);
}

int main(void)
{
	RUN_TEST(test_pm_s3_write_asks_the_machine_to_sleep_once);
	RUN_TEST(test_pm_rtc_event_wakes_only_with_rtc_en);
	RUN_TEST(test_pm_power_button_wakes_whatever_pwrbtn_en);
	RUN_TEST(test_pm_host_wake_only_when_sleeping);
	RUN_TEST(test_pm_sleeping_state_saved_and_restored_asleep);
	RUN_TEST(test_pm_v1_fixture_section_restores_awake);
	RUN_TEST(test_rtc_alarm_raises_rtc_sts_and_wakes);
	RUN_TEST(test_rtc_alarm_wakes_under_hpet_legacy);
	return CHECK_DONE();
}

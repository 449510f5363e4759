/* MC146818A RTC model (src/dev/rtc.c) on a fake clock: time keeping, the
 * update cycle, every periodic rate, alarms, CMOS contents, save/load. */
#include <stdio.h>
#include <time.h>

#include "check.h"
#include "dev/rtc.h"
#include "dev_fake.h"

#define MS  1000000ULL
#define SEC 1000000000ULL

static struct machine m;

static uint8_t rtc_rd(unsigned idx)
{
	pio_write(&m, 0x70, idx, 1);
	return (uint8_t)pio_read(&m, 0x71, 1);
}

static void rtc_wr(unsigned idx, uint8_t v)
{
	pio_write(&m, 0x70, idx, 1);
	pio_write(&m, 0x71, v, 1);
}

static struct device *rtc_setup(uint64_t mem)
{
	fake_machine_init(&m, mem);
	return fake_add(&m, "rtc", 0);
}

/* Sets a BCD 24-hour time with the divider held in reset, then starts it:
 * the first update comes 500 ms after the returned instant. */
static uint64_t rtc_set_bcd(uint8_t cent, uint8_t year, uint8_t mon,
			    uint8_t mday, uint8_t hour, uint8_t min,
			    uint8_t sec)
{
	rtc_wr(0x0a, 0x76);
	rtc_wr(0x0b, 0x82);
	rtc_wr(0x00, sec);
	rtc_wr(0x02, min);
	rtc_wr(0x04, hour);
	rtc_wr(0x07, mday);
	rtc_wr(0x08, mon);
	rtc_wr(0x09, year);
	rtc_wr(0x32, cent);
	rtc_wr(0x0b, 0x02);
	rtc_wr(0x0a, 0x26);
	return fake.now;
}

static void test_rtc_time_runs_across_leap_day(void)
{
	uint64_t t0;

	CHECK(rtc_setup(64 << 20) != NULL);
	t0 = rtc_set_bcd(0x20, 0x24, 0x02, 0x29, 0x23, 0x59, 0x58);
	fake_run_until(t0 + 400 * MS);
	CHECK_EQ(rtc_rd(0x00), 0x58);
	fake_run_until(t0 + 500 * MS);
	CHECK_EQ(rtc_rd(0x00), 0x59);
	fake_run_until(t0 + 2500 * MS);
	CHECK_EQ(rtc_rd(0x00), 0x01);
	CHECK_EQ(rtc_rd(0x02), 0x00);
	CHECK_EQ(rtc_rd(0x04), 0x00);
	CHECK_EQ(rtc_rd(0x07), 0x01);
	CHECK_EQ(rtc_rd(0x08), 0x03);
	CHECK_EQ(rtc_rd(0x09), 0x24);
	CHECK_EQ(rtc_rd(0x32), 0x20);
	CHECK_EQ(rtc_rd(0x06), 6); /* 2024-03-01 was a Friday */
	/* Century rollover. */
	t0 = rtc_set_bcd(0x20, 0x99, 0x12, 0x31, 0x23, 0x59, 0x59);
	fake_run_until(t0 + 600 * MS);
	CHECK_EQ(rtc_rd(0x09), 0x00);
	CHECK_EQ(rtc_rd(0x32), 0x21);
	CHECK_EQ(rtc_rd(0x08), 0x01);
	fake_machine_destroy(&m);
}

static void test_rtc_binary_and_12_hour_modes(void)
{
	uint64_t t0;

	CHECK(rtc_setup(64 << 20) != NULL);
	t0 = rtc_set_bcd(0x20, 0x25, 0x07, 0x14, 0x13, 0x45, 0x30);
	rtc_wr(0x0b, 0x06); /* binary, 24 h */
	CHECK_EQ(rtc_rd(0x04), 13);
	CHECK_EQ(rtc_rd(0x02), 45);
	CHECK_EQ(rtc_rd(0x09), 25);
	rtc_wr(0x0b, 0x04); /* binary, 12 h */
	CHECK_EQ(rtc_rd(0x04), 0x81);
	rtc_wr(0x0b, 0x00); /* BCD, 12 h */
	CHECK_EQ(rtc_rd(0x04), 0x81);
	/* Setting midnight in 12-hour BCD: 12 AM. */
	rtc_wr(0x0b, 0x80);
	rtc_wr(0x04, 0x12);
	rtc_wr(0x0b, 0x00);
	CHECK_EQ(rtc_rd(0x04), 0x12);
	rtc_wr(0x0b, 0x02);
	CHECK_EQ(rtc_rd(0x04), 0x00);
	rtc_wr(0x0b, 0x80);
	rtc_wr(0x04, 0x92); /* 12 PM = noon */
	rtc_wr(0x0b, 0x00);
	CHECK_EQ(rtc_rd(0x04), 0x92);
	rtc_wr(0x0b, 0x02);
	CHECK_EQ(rtc_rd(0x04), 0x12);
	/* Stopped, the bytes are raw: a format change does not convert. */
	rtc_wr(0x0b, 0x80);
	rtc_wr(0x04, 0x05);
	rtc_wr(0x0b, 0x84);
	CHECK_EQ(rtc_rd(0x04), 0x05);
	(void)t0;
	fake_machine_destroy(&m);
}

static void test_rtc_set_time_persists_and_set_freezes(void)
{
	uint64_t t0;

	CHECK(rtc_setup(64 << 20) != NULL);
	t0 = rtc_set_bcd(0x20, 0x30, 0x06, 0x15, 0x08, 0x00, 0x00);
	rtc_wr(0x0b, 0x92); /* SET (+UIE, which SET clears) */
	CHECK_EQ(rtc_rd(0x0b), 0x82);
	fake_run_until(t0 + 10 * SEC);
	CHECK_EQ(rtc_rd(0x00), 0x00); /* frozen while SET */
	rtc_wr(0x02, 0x30);
	rtc_wr(0x0b, 0x02);
	fake_run_until(fake.now + 1 * SEC + 1);
	CHECK_EQ(rtc_rd(0x02), 0x30);
	CHECK_EQ(rtc_rd(0x00), 0x01);
	/* A single field written while running keeps the others. */
	rtc_wr(0x04, 0x11);
	CHECK_EQ(rtc_rd(0x04), 0x11);
	CHECK_EQ(rtc_rd(0x02), 0x30);
	CHECK_EQ(rtc_rd(0x07), 0x15);
	fake_machine_destroy(&m);
}

static void test_rtc_uip_244us_before_update(void)
{
	uint64_t t0;

	CHECK(rtc_setup(64 << 20) != NULL);
	t0 = rtc_set_bcd(0x20, 0x24, 0x01, 0x01, 0x00, 0x00, 0x00);
	fake.now = t0 + 500 * MS - 300000;
	CHECK_EQ(rtc_rd(0x0a), 0x26);
	fake.now = t0 + 500 * MS - 200000;
	CHECK_EQ(rtc_rd(0x0a), 0xa6);
	CHECK_EQ(rtc_rd(0x00), 0x00); /* the update has not happened yet */
	fake.now = t0 + 500 * MS;
	CHECK_EQ(rtc_rd(0x0a), 0x26);
	CHECK_EQ(rtc_rd(0x00), 0x01);
	rtc_wr(0x0a, 0xa6); /* UIP is read-only */
	CHECK_EQ(rtc_rd(0x0a), 0x26);
	CHECK_EQ(rtc_rd(0x0d), 0x80);
	rtc_wr(0x0d, 0x00);
	CHECK_EQ(rtc_rd(0x0d), 0x80);
	fake_machine_destroy(&m);
}

/* Counts interrupts over `secs` seconds of guest time, acknowledging each
 * (reading C) as a guest's handler does. */
static unsigned rtc_count_irqs(uint64_t secs, uint8_t want_flag)
{
	uint64_t end = fake.now + secs * SEC;
	unsigned n = 0;
	struct hyve_timer *t;

	rtc_rd(0x0c);
	while ((t = fake_next_timer()) && t->deadline <= end) {
		fake_run_until(t->deadline);
		if (fake.irq[8]) {
			uint8_t c = rtc_rd(0x0c);

			if ((c & 0x80) && (c & want_flag))
				n++;
		}
	}
	fake_run_until(end);
	return n;
}

static void test_rtc_every_periodic_rate(void)
{
	CHECK(rtc_setup(64 << 20) != NULL);
	rtc_set_bcd(0x20, 0x24, 0x01, 0x01, 0x00, 0x00, 0x00);
	for (unsigned rs = 1; rs <= 15; rs++) {
		unsigned hz = rs == 1	? 256
			      : rs == 2 ? 128
					: 32768u >> (rs - 1),
			 n;

		rtc_wr(0x0a, 0x20 | rs);
		rtc_wr(0x0b, 0x42);
		n = rtc_count_irqs(rs >= 14 ? 4 : 1, 0x40);
		if (rs >= 14)
			hz *= 4;
		if (n + 1 < hz || n > hz + 1)
			printf("# rate select %u: %u interrupts, expected %u\n",
			       rs, n, hz);
		CHECK(n + 1 >= hz && n <= hz + 1);
	}
	/* RS = 0: no periodic interrupt. */
	rtc_wr(0x0a, 0x20);
	CHECK_EQ(rtc_count_irqs(1, 0x40), 0);
	fake_machine_destroy(&m);
}

static void test_rtc_unacknowledged_periodic_is_not_a_timer_storm(void)
{
	CHECK(rtc_setup(64 << 20) != NULL);
	rtc_wr(0x0a, 0x23); /* 8192 Hz */
	rtc_wr(0x0b, 0x42);
	rtc_rd(0x0c);
	CHECK_EQ(fake_run_until(fake.now + 1 * SEC), 1);
	CHECK_EQ(fake.irq[8], 1);
	CHECK(fake_next_timer() == NULL); /* nothing to do until C is read */
	CHECK_EQ(rtc_rd(0x0c) & 0xc0, 0xc0);
	CHECK_EQ(fake.irq[8], 0);
	CHECK(fake_next_timer() != NULL);
	fake_machine_destroy(&m);
}

static void test_rtc_update_and_alarm_interrupts(void)
{
	uint64_t t0;

	CHECK(rtc_setup(64 << 20) != NULL);
	t0 = rtc_set_bcd(0x20, 0x24, 0x01, 0x01, 0x10, 0x00, 0x00);
	rtc_wr(0x0b, 0x12); /* UIE */
	CHECK_EQ(rtc_count_irqs(5, 0x10), 5);
	/* Alarm at 10:00:08 exactly once in a minute. */
	rtc_wr(0x01, 0x08);
	rtc_wr(0x03, 0x00);
	rtc_wr(0x05, 0x10);
	rtc_wr(0x0b, 0x22);
	CHECK_EQ(rtc_count_irqs(60, 0x20), 1);
	CHECK_EQ(rtc_rd(0x02), 0x01);
	/* Seconds = 30, minute and hour "don't care": once a minute. */
	rtc_wr(0x01, 0x30);
	rtc_wr(0x03, 0xc0);
	rtc_wr(0x05, 0xff);
	CHECK_EQ(rtc_count_irqs(180, 0x20), 3);
	/* All don't care: every second. */
	rtc_wr(0x01, 0xc5);
	CHECK_EQ(rtc_count_irqs(10, 0x20), 10);
	/* An impossible alarm (hour 0x25) never fires. */
	rtc_wr(0x01, 0x00);
	rtc_wr(0x03, 0x00);
	rtc_wr(0x05, 0x25);
	CHECK_EQ(rtc_count_irqs(3600, 0x20), 0);
	(void)t0;
	fake_machine_destroy(&m);
}

static void test_rtc_flags_set_without_interrupts_and_cleared_by_read(void)
{
	CHECK(rtc_setup(64 << 20) != NULL);
	rtc_set_bcd(0x20, 0x24, 0x01, 0x01, 0x10, 0x00, 0x00);
	rtc_rd(0x0c);
	fake_run_until(fake.now + 2 * SEC);
	CHECK_EQ(rtc_rd(0x0c), 0x50); /* PF + UF, no IRQF */
	CHECK_EQ(rtc_rd(0x0c), 0x00);
	CHECK_EQ(fake.rises[8], 0);
	fake_machine_destroy(&m);
}

static void test_rtc_hpet_legacy_takes_irq8(void)
{
	struct device *dev;

	CHECK((dev = rtc_setup(64 << 20)) != NULL);
	rtc_set_bcd(0x20, 0x24, 0x01, 0x01, 0x10, 0x00, 0x00);
	rtc_set_hpet_legacy(dev, true);
	rtc_wr(0x0b, 0x12);
	fake_run_until(fake.now + 3 * SEC);
	CHECK_EQ(fake.rises[8], 0);
	CHECK(fake_next_timer() == NULL);
	rtc_set_hpet_legacy(dev, false);
	CHECK_EQ(fake.irq[8], 1); /* UF was pending: the line comes back */
	fake_machine_destroy(&m);
}

static void test_rtc_cmos_memory_size_and_nmi_bit(void)
{
	CHECK(rtc_setup(512ULL << 20) != NULL);
	CHECK_EQ(rtc_rd(0x15) | rtc_rd(0x16) << 8, 640);
	CHECK_EQ(rtc_rd(0x17) | rtc_rd(0x18) << 8, 0xffff);
	CHECK_EQ(rtc_rd(0x30) | rtc_rd(0x31) << 8, 0xffff);
	CHECK_EQ(rtc_rd(0x34) | rtc_rd(0x35) << 8, (512 - 16) * 16);
	CHECK_EQ(rtc_rd(0x5b) | rtc_rd(0x5c) << 8 | rtc_rd(0x5d) << 16, 0);
	pio_write(&m, 0x70, 0x8f, 1);
	CHECK_EQ(pio_read(&m, 0x70, 1), 0x8f);
	pio_write(&m, 0x71, 0xa5, 1);
	CHECK_EQ(rtc_rd(0x0f), 0xa5);
	CHECK_EQ(rtc_rd(0x7f), 0x00);
	fake_machine_destroy(&m);

	CHECK(rtc_setup(5ULL << 30) != NULL);
	CHECK_EQ(rtc_rd(0x34) | rtc_rd(0x35) << 8, (3072 - 16) * 16);
	CHECK_EQ(rtc_rd(0x5b) | rtc_rd(0x5c) << 8 | rtc_rd(0x5d) << 16,
		 (2ULL << 30) >> 16);
	fake_machine_destroy(&m);
}

static void test_rtc_local_time_unless_utc(void)
{
	time_t before, after;
	struct tm tm;
	unsigned hour;

	setenv("TZ", "XYZ-3", 1); /* UTC+3, no DST */
	tzset();
	for (int utc = 0; utc <= 1; utc++) {
		fake_machine_init(&m, 64 << 20);
		m.cfg.rtc_utc = utc;
		before = time(NULL);
		CHECK(fake_add(&m, "rtc", 0) != NULL);
		hour = rtc_rd(0x04);
		after = time(NULL);
		gmtime_r(&before, &tm);
		if (before / 3600 == after / 3600) {
			unsigned want =
			    (unsigned)(tm.tm_hour + (utc ? 0 : 3)) % 24;

			CHECK_EQ(hour, (want / 10) << 4 | want % 10);
		}
		fake_machine_destroy(&m);
	}
	unsetenv("TZ");
	tzset();
}

static void test_rtc_state_round_trip(void)
{
	struct device *dev;
	uint8_t before[14], after[14];
	void *state = NULL;
	uint64_t t0;

	CHECK((dev = rtc_setup(64 << 20)) != NULL);
	t0 = rtc_set_bcd(0x20, 0x26, 0x11, 0x30, 0x22, 0x10, 0x05);
	rtc_wr(0x01, 0x15);
	rtc_wr(0x40, 0x99);
	pio_write(&m, 0x70, 0x80 | 0x0b, 1);
	fake_run_until(t0 + 3 * SEC + 100 * MS);
	CHECK(fake_save_check(dev, &state) == 0);
	CHECK(fake_wire_roundtrip(dev->type->state, state));
	for (unsigned i = 0; i < 14; i++)
		before[i] = rtc_rd(i);
	/* Scramble, then load the saved state back. */
	rtc_set_bcd(0x19, 0x70, 0x01, 0x01, 0x00, 0x00, 0x00);
	rtc_wr(0x40, 0x00);
	CHECK(fake_load(dev, state) == 0);
	for (unsigned i = 0; i < 14; i++)
		after[i] = rtc_rd(i);
	CHECK(memcmp(before, after, 12) == 0);
	CHECK_EQ(rtc_rd(0x40), 0x99);
	fake_run_until(fake.now + 10 * SEC);
	CHECK_EQ(rtc_rd(0x00), 0x18); /* continues from the saved time */
	{
		struct hyve_err err = {0};
		uint8_t *bad = state;

		bad[128] = 0x80; /* index beyond the CMOS */
		CHECK(dev->type->check(state, &err) < 0);
	}
	free(state);
	fake_machine_destroy(&m);
}

static void test_rtc_advance_seconds_for_restore_wallclock(void)
{
	struct device *dev;
	uint64_t t0;

	CHECK((dev = rtc_setup(64 << 20)) != NULL);
	t0 = rtc_set_bcd(0x20, 0x24, 0x12, 0x31, 0x23, 0x00, 0x00);
	fake_run_until(t0 + 100 * MS);
	rtc_advance_seconds(dev, 3600 + 61);
	CHECK_EQ(rtc_rd(0x09), 0x25);
	CHECK_EQ(rtc_rd(0x04), 0x00);
	CHECK_EQ(rtc_rd(0x02), 0x01);
	CHECK_EQ(rtc_rd(0x00), 0x01);
	/* Stopped (SET): the held time moves. */
	rtc_wr(0x0b, 0x82);
	rtc_advance_seconds(dev, 59);
	CHECK_EQ(rtc_rd(0x02), 0x02);
	CHECK_EQ(rtc_rd(0x00), 0x00);
	fake_machine_destroy(&m);
}

static void test_rtc_random_writes_keep_state_valid(void)
{
	struct device *dev;

	CHECK((dev = rtc_setup(64 << 20)) != NULL);
	for (unsigned i = 0; i < 100000; i++) {
		uint64_t r = fake_rand();
		uint64_t port = 0x6f + (r & 3);
		unsigned len = 1u << ((r >> 2) % 4);

		if ((r >> 4) & 1)
			pio_write(&m, port, fake_rand(), len);
		else
			pio_read(&m, port, len);
		if ((r >> 5) % 16 == 0)
			fake_run_until(fake.now + (fake_rand() % (20 * MS)));
		if (i % 1000 == 0)
			CHECK(fake_save_check(dev, NULL) == 0);
	}
	CHECK(fake_save_check(dev, NULL) == 0);
	fake_machine_destroy(&m);
}

int main(void)
{
	RUN_TEST(test_rtc_time_runs_across_leap_day);
	RUN_TEST(test_rtc_binary_and_12_hour_modes);
	RUN_TEST(test_rtc_set_time_persists_and_set_freezes);
	RUN_TEST(test_rtc_uip_244us_before_update);
	RUN_TEST(test_rtc_every_periodic_rate);
	RUN_TEST(test_rtc_unacknowledged_periodic_is_not_a_timer_storm);
	RUN_TEST(test_rtc_update_and_alarm_interrupts);
	RUN_TEST(test_rtc_flags_set_without_interrupts_and_cleared_by_read);
	RUN_TEST(test_rtc_hpet_legacy_takes_irq8);
	RUN_TEST(test_rtc_cmos_memory_size_and_nmi_bit);
	RUN_TEST(test_rtc_local_time_unless_utc);
	RUN_TEST(test_rtc_state_round_trip);
	RUN_TEST(test_rtc_advance_seconds_for_restore_wallclock);
	RUN_TEST(test_rtc_random_writes_keep_state_valid);
	return CHECK_DONE();
}

/* ACPI PM timer and PM1 blocks (src/dev/pmtimer.c) on a fake clock. */
#include <stdio.h>

#include "check.h"
#include "dev/pmtimer.h"
#include "dev_fake.h"
#include "hyve/boot.h"

#define SEC 1000000000ULL
#define STS ACPI_PM1A_EVT_BLK
#define EN  (ACPI_PM1A_EVT_BLK + 2)
#define CNT ACPI_PM1A_CNT_BLK
#define TMR ACPI_PM_TMR_BLK

static struct machine m;

static struct device *pm_setup(void)
{
	fake_machine_init(&m, 64 << 20);
	return fake_add(&m, "pmtimer", 0);
}

static void test_pmtimer_counts_at_3579545_hz(void)
{
	uint32_t a, b;

	CHECK(pm_setup() != NULL);
	a = (uint32_t)pio_read(&m, TMR, 4);
	fake.now += SEC;
	b = (uint32_t)pio_read(&m, TMR, 4);
	CHECK_EQ(b - a, 3579545);
	fake.now += SEC / 1000;
	a = (uint32_t)pio_read(&m, TMR, 4);
	CHECK_EQ(a - b, 3579); /* 3579.545 ticks: floor */
	/* Narrow reads see the same counter. */
	CHECK_EQ(pio_read(&m, TMR, 2), a & 0xffff);
	CHECK_EQ(pio_read(&m, TMR + 2, 2), a >> 16);
	CHECK_EQ(pio_read(&m, TMR + 3, 1), a >> 24);
	/* Read-only. */
	pio_write(&m, TMR, 0, 4);
	CHECK_EQ(pio_read(&m, TMR, 4), a);
	fake_machine_destroy(&m);
}

static void test_pmtimer_wraps_at_32_bits_with_tmr_sts_and_sci(void)
{
	uint64_t wrap_ns = (1ULL << 31) * SEC / 3579545 + 1;

	CHECK(pm_setup() != NULL);
	CHECK_EQ(pio_read(&m, CNT, 2) & 1, 1); /* SCI_EN from reset */
	pio_write(&m, EN, 0x0001, 2);	       /* TMR_EN */
	CHECK(fake_next_timer() != NULL);
	CHECK(fake_next_timer()->deadline <= fake.now + wrap_ns);
	CHECK(fake_next_timer()->deadline + 2 >= fake.now + wrap_ns);
	fake_run_until(fake.now + wrap_ns - 1000);
	CHECK_EQ(pio_read(&m, STS, 2) & 1, 0);
	CHECK_EQ(fake.irq[9], 0);
	fake_run_until(fake.now + 1000);
	CHECK_EQ(fake.irq[9], 1);
	CHECK_EQ(pio_read(&m, STS, 2), 0x0001);
	CHECK(pio_read(&m, TMR, 4) >= 0x80000000u);
	pio_write(&m, STS, 0x0001, 2); /* write 1 to clear */
	CHECK_EQ(fake.irq[9], 0);
	CHECK_EQ(pio_read(&m, STS, 2), 0);
	/* Bit 31 falling is another toggle. */
	fake_run_until(fake.now + wrap_ns);
	CHECK_EQ(fake.irq[9], 1);
	CHECK(pio_read(&m, TMR, 4) < 0x1000000u);
	/* Without TMR_EN the status is still set, with no SCI. */
	pio_write(&m, EN, 0, 2);
	CHECK_EQ(fake.irq[9], 0);
	CHECK(fake_next_timer() == NULL);
	fake_machine_destroy(&m);
}

static void test_pmtimer_power_button_and_s5(void)
{
	struct device *dev;

	CHECK((dev = pm_setup()) != NULL);
	pmtimer_power_button(dev);
	CHECK_EQ(pio_read(&m, STS, 2), 0x0100);
	CHECK_EQ(fake.irq[9], 0);
	pio_write(&m, EN, 0x0100, 2);
	CHECK_EQ(fake.irq[9], 1);
	pio_write(&m, STS + 1, 0x01, 1); /* byte write to the high half */
	CHECK_EQ(fake.irq[9], 0);
	/* SCI_EN stays set whatever the guest writes. */
	pio_write(&m, CNT, 0x0000, 2);
	CHECK_EQ(pio_read(&m, CNT, 2), 0x0001);
	/* S1 is not offered: nothing happens; S5 powers off. */
	pio_write(&m, CNT, 1 << 10 | 1 << 13, 2);
	CHECK_EQ(fake.exits, 0);
	CHECK_EQ(pio_read(&m, CNT, 2), 0x0401); /* SLP_EN reads 0 */
	pio_write(&m, CNT, 5 << 10, 2);
	CHECK_EQ(fake.exits, 0);
	pio_write(&m, CNT + 1, (5 << 2) | (1 << 5), 1);
	CHECK_EQ(fake.exits, 1);
	CHECK_EQ(fake.exit_status, HYVE_EXIT_POWEROFF);
	CHECK(strstr(fake.exit_reason, "S5") != NULL);
	fake_machine_destroy(&m);
}

static void test_pmtimer_state_round_trip(void)
{
	struct device *dev;
	void *state = NULL;
	uint32_t t;

	CHECK((dev = pm_setup()) != NULL);
	pio_write(&m, EN, 0x0121, 2);
	pmtimer_power_button(dev);
	fake.now += 12345678;
	t = (uint32_t)pio_read(&m, TMR, 4);
	CHECK(fake_save_check(dev, &state) == 0);
	CHECK(fake_wire_roundtrip(dev->type->state, state));
	pio_write(&m, EN, 0, 2);
	pio_write(&m, STS, 0xffff, 2);
	dev->type->reset(dev);
	CHECK(fake_load(dev, state) == 0);
	CHECK_EQ(pio_read(&m, TMR, 4), t);
	CHECK_EQ(pio_read(&m, EN, 2), 0x0121);
	CHECK_EQ(pio_read(&m, STS, 2), 0x0100);
	CHECK_EQ(fake.irq[9], 1);
	{
		struct hyve_err err = {0};
		uint16_t *cnt = (uint16_t *)((uint8_t *)state + 20);

		*cnt = 0; /* SCI_EN clear: impossible here */
		CHECK(dev->type->check(state, &err) < 0);
	}
	free(state);
	fake_machine_destroy(&m);
}

static void test_pmtimer_random_writes_keep_state_valid(void)
{
	struct device *dev;

	CHECK((dev = pm_setup()) != NULL);
	for (unsigned i = 0; i < 100000; i++) {
		uint64_t r = fake_rand();
		uint64_t port = ACPI_PM1A_EVT_BLK - 2 + r % 16;
		unsigned len = 1u << ((r >> 4) % 3);

		if ((r >> 6) & 1)
			pio_write(&m, port, fake_rand(), len);
		else
			pio_read(&m, port, len);
		if ((r >> 7) % 64 == 0)
			fake_run_until(fake.now + fake_rand() % (700 * SEC));
		if (i % 1000 == 0)
			CHECK(fake_save_check(dev, NULL) == 0);
	}
	CHECK(fake_save_check(dev, NULL) == 0);
	CHECK(fake.exits == 0 || fake.exit_status == HYVE_EXIT_POWEROFF);
	fake_machine_destroy(&m);
}

int main(void)
{
	RUN_TEST(test_pmtimer_counts_at_3579545_hz);
	RUN_TEST(test_pmtimer_wraps_at_32_bits_with_tmr_sts_and_sci);
	RUN_TEST(test_pmtimer_power_button_and_s5);
	RUN_TEST(test_pmtimer_state_round_trip);
	RUN_TEST(test_pmtimer_random_writes_keep_state_valid);
	return CHECK_DONE();
}

/* HPET model (src/dev/hpet.c) on a fake clock: counter, one-shot and
 * periodic comparators, 32-bit mode, level/edge, legacy routing. */
#include <stdio.h>

#include "check.h"
#include "dev_fake.h"
#include "hyve/hpet.h"

#define US	1000ULL
#define MS	1000000ULL
#define CAP	(HPET_BASE + 0x000)
#define CONFIG	(HPET_BASE + 0x010)
#define STATUS	(HPET_BASE + 0x020)
#define COUNTER (HPET_BASE + 0x0f0)
#define TCFG(n) (HPET_BASE + 0x100 + 0x20 * (n))
#define TCMP(n) (HPET_BASE + 0x108 + 0x20 * (n))

#define TN_LEVEL    (1u << 1)
#define TN_ENABLE   (1u << 2)
#define TN_PERIODIC (1u << 3)
#define TN_VAL_SET  (1u << 6)
#define TN_32BIT    (1u << 8)
#define TN_ROUTE(g) ((unsigned)(g) << 9)

static struct machine m;

static struct device *hpet_setup(void)
{
	fake_machine_init(&m, 64 << 20);
	return fake_add(&m, "hpet", 0);
}

static void test_hpet_capabilities_and_reserved(void)
{
	CHECK(hpet_setup() != NULL);
	CHECK_EQ(mmio_read(&m, CAP, 8), HPET_PERIOD_FS << 32 | 0x8086a201u);
	CHECK_EQ(mmio_read(&m, CAP + 4, 4), HPET_PERIOD_FS);
	mmio_write(&m, CAP, ~0ULL, 8); /* read-only */
	CHECK_EQ(mmio_read(&m, CAP, 4), 0x8086a201u);
	CHECK_EQ(mmio_read(&m, HPET_BASE + 0x008, 8), 0);
	CHECK_EQ(mmio_read(&m, HPET_BASE + 0x3f8, 8), 0);
	/* Timer caps: periodic, 64-bit, route cap 20-23, no FSB. */
	CHECK_EQ(mmio_read(&m, TCFG(2), 8),
		 (uint64_t)HPET_ROUTE_CAP << 32 | 0x30);
	mmio_write(&m, TCFG(2), ~0ULL, 8);
	CHECK_EQ(mmio_read(&m, TCFG(2), 4) & (1u << 14),
		 0); /* FSB_EN stays 0 */
	CHECK_EQ(mmio_read(&m, TCFG(2), 4) & TN_ROUTE(31),
		 0); /* route 31 not taken */
	fake_machine_destroy(&m);
}

static void test_hpet_counter_runs_only_when_enabled(void)
{
	CHECK(hpet_setup() != NULL);
	fake.now += 1 * MS;
	CHECK_EQ(mmio_read(&m, COUNTER, 8), 0);
	mmio_write(&m, COUNTER, 0xfffffff0ULL, 8);
	mmio_write(&m, CONFIG, 1, 4);
	fake.now += 1 * MS;
	CHECK_EQ(mmio_read(&m, COUNTER, 8), 0xfffffff0ULL + 100000);
	CHECK_EQ(mmio_read(&m, COUNTER + 4, 4), 1); /* 32-bit halves */
	CHECK_EQ(mmio_read(&m, COUNTER, 4), (uint32_t)(0xfffffff0ULL + 100000));
	mmio_write(&m, CONFIG, 0, 4);
	fake.now += 5 * MS;
	CHECK_EQ(mmio_read(&m, COUNTER, 8), 0xfffffff0ULL + 100000);
	/* Halted: writable by halves. */
	mmio_write(&m, COUNTER + 4, 0x12345678, 4);
	mmio_write(&m, COUNTER, 0x9abcdef0, 4);
	CHECK_EQ(mmio_read(&m, COUNTER, 8), 0x123456789abcdef0ULL);
	fake_machine_destroy(&m);
}

static void test_hpet_one_shot_each_timer_ioapic_edge(void)
{
	CHECK(hpet_setup() != NULL);
	mmio_write(&m, CONFIG, 1, 4);
	for (unsigned n = 0; n < 3; n++) {
		unsigned gsi = 20 + n;
		uint64_t now = mmio_read(&m, COUNTER, 8);

		mmio_write(&m, TCMP(n), now + 50000, 8); /* 500 us */
		mmio_write(&m, TCFG(n), TN_ENABLE | TN_ROUTE(gsi), 4);
		CHECK(fake_next_timer() != NULL);
		CHECK_EQ(fake_next_timer()->deadline, fake.now + 500 * US);
		fake_run_until(fake.now + 499 * US);
		CHECK_EQ(fake.rises[gsi], 0);
		fake_run_until(fake.now + 1 * US);
		CHECK_EQ(fake.rises[gsi], 1);
		CHECK_EQ(fake.irq[gsi], 0); /* an edge: raised and lowered */
		fake_run_until(fake.now + 100 * MS);
		CHECK_EQ(fake.rises[gsi], 1);	       /* one-shot */
		CHECK_EQ(mmio_read(&m, STATUS, 8), 0); /* edge: no status */
		mmio_write(&m, TCFG(n), 0, 4);
	}
	fake_machine_destroy(&m);
}

static void test_hpet_periodic_accumulator_and_coalescing(void)
{
	CHECK(hpet_setup() != NULL);
	mmio_write(&m, TCFG(0),
		   TN_ENABLE | TN_PERIODIC | TN_VAL_SET | TN_ROUTE(20), 4);
	mmio_write(&m, TCMP(0), 100000, 8); /* first match and period: 1 ms */
	CHECK_EQ(mmio_read(&m, TCFG(0), 4) & TN_VAL_SET, 0);
	mmio_write(&m, CONFIG, 1, 4);
	fake_run_until(fake.now + 10 * MS);
	CHECK_EQ(fake.rises[20], 10);
	CHECK_EQ(mmio_read(&m, TCMP(0), 8), 1100000);
	/* Changing the period: takes effect after the next match. */
	mmio_write(&m, TCMP(0), 200000, 8);
	fake_run_until(fake.now + 10 * MS);
	CHECK_EQ(fake.rises[20], 15);
	/* A tiny period: missed periods coalesce and the host timer never
	 * fires closer than 100 us: ~10 kHz at most, not 100 MHz. */
	mmio_write(&m, TCMP(0), 1, 8);
	fake_run_until(fake.now + 1 * MS);
	CHECK(fake_run_until(fake.now + 10 * MS) <= 101);
	CHECK(mmio_read(&m, TCMP(0), 8) > mmio_read(&m, COUNTER, 8));
	fake_machine_destroy(&m);
}

static void test_hpet_level_status_and_w1c(void)
{
	CHECK(hpet_setup() != NULL);
	mmio_write(&m, CONFIG, 1, 4);
	mmio_write(&m, TCMP(1), mmio_read(&m, COUNTER, 8) + 1000, 8);
	mmio_write(&m, TCFG(1), TN_LEVEL | TN_ENABLE | TN_ROUTE(22), 4);
	fake_run_until(fake.now + 20 * US);
	CHECK_EQ(fake.irq[22], 1);
	CHECK_EQ(mmio_read(&m, STATUS, 8), 2);
	mmio_write(&m, STATUS, 1, 8); /* other bits: no effect */
	CHECK_EQ(fake.irq[22], 1);
	mmio_write(&m, STATUS, 2, 1);
	CHECK_EQ(fake.irq[22], 0);
	CHECK_EQ(mmio_read(&m, STATUS, 8), 0);
	/* Status is set even with the interrupt disabled, with no line. */
	mmio_write(&m, TCFG(1), TN_LEVEL | TN_ROUTE(22), 4);
	mmio_write(&m, TCMP(1), mmio_read(&m, COUNTER, 8) + 1000, 8);
	fake.now += 20 * US;
	CHECK_EQ(mmio_read(&m, STATUS, 8), 2);
	CHECK_EQ(fake.irq[22], 0);
	fake_machine_destroy(&m);
}

static void test_hpet_32bit_mode_wraps(void)
{
	CHECK(hpet_setup() != NULL);
	mmio_write(&m, COUNTER, 0x1fffff000ULL, 8);
	mmio_write(&m, TCMP(2), 0xffffffff00000800ULL, 8);
	mmio_write(&m, TCFG(2), TN_ENABLE | TN_32BIT | TN_ROUTE(23), 4);
	CHECK_EQ(mmio_read(&m, TCMP(2), 8), 0x800); /* upper half dropped */
	mmio_write(&m, CONFIG, 1, 4);
	/* The low half wraps after 0x1000 ticks: a 32-bit one-shot
	 * interrupts there, then matches 0x800 later. */
	fake_run_until(fake.now + 0x1000 * 10);
	CHECK_EQ(fake.rises[23], 1);
	fake_run_until(fake.now + 0x800 * 10);
	CHECK_EQ(fake.rises[23], 2);
	fake_run_until(fake.now + 1000 * MS);
	CHECK_EQ(fake.rises[23], 2);
	/* 32-bit periodic: the comparator wraps through 0. */
	mmio_write(&m, CONFIG, 0, 4);
	mmio_write(&m, COUNTER, 0xfffff000ULL, 8);
	mmio_write(
	    &m, TCFG(2),
	    TN_ENABLE | TN_32BIT | TN_PERIODIC | TN_VAL_SET | TN_ROUTE(23), 4);
	mmio_write(&m, TCMP(2), 0xfffff800ULL, 4);
	mmio_write(&m, TCMP(2), 0x1000, 4);
	mmio_write(&m, CONFIG, 1, 4);
	fake_run_until(fake.now + 0x800 * 10);
	CHECK_EQ(fake.rises[23], 3);
	CHECK_EQ(mmio_read(&m, TCMP(2), 8), 0x800);
	fake_machine_destroy(&m);
}

static void test_hpet_legacy_replacement_routes_irq0_and_irq8(void)
{
	struct device *rtc;

	fake_machine_init(&m, 64 << 20);
	CHECK(fake_add(&m, "hpet", 0) != NULL);
	CHECK((rtc = fake_add(&m, "rtc", 0)) != NULL);
	/* RTC update interrupts on IRQ 8 before legacy mode. */
	pio_write(&m, 0x70, 0x0b, 1);
	pio_write(&m, 0x71, 0x12, 1);
	fake_run_until(fake.now + 1100 * MS);
	CHECK_EQ(fake.irq[8], 1);
	mmio_write(&m, CONFIG, 3, 4);
	CHECK(fake.pit_legacy);
	CHECK_EQ(fake.irq[8], 0); /* the RTC let go of IRQ 8 */
	mmio_write(&m, TCFG(0), TN_ENABLE | TN_PERIODIC | TN_VAL_SET, 4);
	mmio_write(&m, TCMP(0), 100000, 8);
	mmio_write(&m, TCMP(1), mmio_read(&m, COUNTER, 8) + 50000, 8);
	mmio_write(&m, TCFG(1), TN_ENABLE, 4);
	fake_run_until(fake.now + 5 * MS);
	CHECK_EQ(fake.rises[0], 5);
	CHECK_EQ(fake.rises[8], 2); /* 1 from the RTC before, 1 from timer 1 */
	CHECK_EQ(fake.rises[20] + fake.rises[21], 0);
	mmio_write(&m, CONFIG, 1, 4);
	CHECK(!fake.pit_legacy);
	CHECK_EQ(fake.irq[8], 1); /* back to the RTC, UF still pending */
	fake_machine_destroy(&m);
}

static void test_hpet_unaligned_and_narrow_accesses(void)
{
	CHECK(hpet_setup() != NULL);
	mmio_write(&m, TCMP(0), 0x1122334455667788ULL, 8);
	CHECK_EQ(mmio_read(&m, TCMP(0) + 3, 2), 0x4455);
	CHECK_EQ(mmio_read(&m, TCMP(0) + 7, 1), 0x11);
	mmio_write(&m, TCMP(0) + 2, 0xaabb, 2);
	CHECK_EQ(mmio_read(&m, TCMP(0), 8), 0x11223344aabb7788ULL);
	/* An access straddling two registers reaches both. */
	mmio_write(&m, TCFG(0) + 6, 0x00040000,
		   4); /* TCFG bytes 6-7, TCMP bytes 0-1 */
	CHECK_EQ(mmio_read(&m, TCMP(0), 2), 0x0004);
	fake_machine_destroy(&m);
}

static void test_hpet_state_round_trip(void)
{
	struct device *dev;
	void *state = NULL;
	uint64_t regs[8];
	static const uint64_t offs[8] = {0x10,	0x20,  0xf0,  0x100,
					 0x108, 0x120, 0x128, 0x148};

	CHECK((dev = hpet_setup()) != NULL);
	mmio_write(&m, TCFG(0),
		   TN_ENABLE | TN_PERIODIC | TN_VAL_SET | TN_ROUTE(21), 4);
	mmio_write(&m, TCMP(0), 300000, 8);
	mmio_write(&m, TCMP(1), 12345678, 8);
	mmio_write(&m, TCFG(1), TN_LEVEL | TN_ENABLE | TN_32BIT | TN_ROUTE(22),
		   4);
	mmio_write(&m, CONFIG, 1, 4);
	fake_run_until(fake.now + 130 * MS);
	CHECK(fake_save_check(dev, &state) == 0);
	CHECK(fake_wire_roundtrip(dev->type->state, state));
	for (unsigned i = 0; i < 8; i++)
		regs[i] = mmio_read(&m, HPET_BASE + offs[i], 8);
	dev->type->reset(dev);
	CHECK_EQ(mmio_read(&m, CONFIG, 8), 0);
	CHECK(fake_load(dev, state) == 0);
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(mmio_read(&m, HPET_BASE + offs[i], 8), regs[i]);
	CHECK_EQ(fake.irq[22], 1);
	{
		struct hyve_err err = {0};
		uint64_t *cfg = (uint64_t *)state;

		*cfg = 4; /* reserved general config bit */
		CHECK(dev->type->check(state, &err) < 0);
	}
	free(state);
	fake_machine_destroy(&m);
}

static void test_hpet_random_writes_keep_state_valid(void)
{
	struct device *dev;

	fake_machine_init(&m, 64 << 20);
	CHECK((dev = fake_add(&m, "hpet", 0)) != NULL);
	CHECK(fake_add(&m, "rtc", 0) != NULL);
	for (unsigned i = 0; i < 200000; i++) {
		uint64_t r = fake_rand();
		uint64_t addr = HPET_BASE + (r % 0x180) - 4;
		unsigned len = 1u << ((r >> 10) % 4);

		if ((r >> 12) & 1)
			mmio_write(&m, addr, fake_rand() >> ((r >> 13) % 64),
				   len);
		else
			mmio_read(&m, addr, len);
		if ((r >> 20) % 32 == 0)
			CHECK(fake_run_until(fake.now +
					     fake_rand() % (5 * MS)) < 100000);
		if (i % 1000 == 0)
			CHECK(fake_save_check(dev, NULL) == 0);
	}
	CHECK(fake_save_check(dev, NULL) == 0);
	fake_machine_destroy(&m);
}

int main(void)
{
	RUN_TEST(test_hpet_capabilities_and_reserved);
	RUN_TEST(test_hpet_counter_runs_only_when_enabled);
	RUN_TEST(test_hpet_one_shot_each_timer_ioapic_edge);
	RUN_TEST(test_hpet_periodic_accumulator_and_coalescing);
	RUN_TEST(test_hpet_level_status_and_w1c);
	RUN_TEST(test_hpet_32bit_mode_wraps);
	RUN_TEST(test_hpet_legacy_replacement_routes_irq0_and_irq8);
	RUN_TEST(test_hpet_unaligned_and_narrow_accesses);
	RUN_TEST(test_hpet_state_round_trip);
	RUN_TEST(test_hpet_random_writes_keep_state_valid);
	return CHECK_DONE();
}

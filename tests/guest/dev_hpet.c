/* The HPET as a guest sees it: capabilities, the main counter's rate
 * against the TSC, one-shot and periodic interrupts on each timer through
 * IOAPIC pins 20-22, a level-triggered timer with its status bit, 32-bit
 * mode's wrap interrupt, and legacy replacement routing: timer 0 on IRQ 0
 * (IOAPIC pin 2) while the PIT falls silent, timer 1 on IRQ 8, and the
 * PIT back once legacy routing is off.  Prints "hpet: <case> ok ...". */
#include "dev_timing.h"

#define HPET	     0xFED00000ull
#define CAP	     0x000
#define CONFIG	     0x010
#define STATUS	     0x020
#define COUNTER	     0x0f0
#define TCFG(n)	     (0x100 + 0x20 * (n))
#define TCMP(n)	     (0x108 + 0x20 * (n))
#define TN_LEVEL     (1u << 1)
#define TN_ENABLE    (1u << 2)
#define TN_PERIODIC  (1u << 3)
#define TN_VAL_SET   (1u << 6)
#define TN_32BIT     (1u << 8)
#define TN_ROUTE(g)  ((u64)(g) << 9)
#define TICKS_PER_MS 100000ull /* 100 MHz */
#define VEC_TIMER    0x40      /* + n for timer n on GSI 20 + n */
#define VEC_LEVEL    0x48
#define VEC_IRQ0     0x50
#define VEC_IRQ8     0x51

static volatile u64 irqs[4], irq_tsc[4], irq0s, irq8s, level_status,
    level_with_status;

static u64 hpet_rd(u64 off)
{
	return *(volatile u64 *)(HPET + off);
}

static void hpet_wr(u64 off, u64 v)
{
	*(volatile u64 *)(HPET + off) = v;
}

static void timer_irq(struct irq_frame *f)
{
	unsigned n = (unsigned)(f->vector - VEC_TIMER);

	irqs[n]++;
	irq_tsc[n] = rdtsc();
}

static void level_irq(struct irq_frame *f)
{
	(void)f;
	u64 st = hpet_rd(STATUS);

	if (st & (1u << 2)) {
		level_status = st;
		level_with_status++;
	}
	hpet_wr(STATUS, 1u << 2); /* deassert before the EOI */
	irqs[3]++;
}

static void irq0_handler(struct irq_frame *f)
{
	(void)f;
	irq0s++;
}

static void irq8_handler(struct irq_frame *f)
{
	(void)f;
	irq8s++;
}

static void sleep_ms(u64 ms)
{
	u64 end = rdtsc() + dev_ms_to_tsc(ms);

	while (rdtsc() < end)
		irq_wait();
}

static u64 counter_read(void)
{
	return hpet_rd(COUNTER);
}

static void test_caps_and_rate(void)
{
	u64 cap = hpet_rd(CAP), c0, c1, t0, t1, hz;

	if ((u32)cap != 0x8086a201u || cap >> 32 != 10000000)
		guest_fail("capabilities 0x%lx", cap);
	hpet_wr(CONFIG, 0);
	hpet_wr(COUNTER, 0);
	hpet_wr(CONFIG, 1);
	c0 = dev_sample(counter_read, &t0);
	while (rdtsc() - t0 < dev_ms_to_tsc(200))
		cpu_relax();
	c1 = dev_sample(counter_read, &t1);
	hz = (c1 - c0) * 1000000 / dev_tsc_to_us(t1 - t0);
	gprintf("hpet: counter %lu Hz against the TSC\n", hz);
	if (hz < 99000000 || hz > 101000000)
		guest_fail("main counter runs at %lu Hz, 100 MHz declared", hz);
	gprintf("hpet: caps and rate ok\n");
}

static void test_one_shot_each_timer(void)
{
	for (unsigned n = 0; n < 3; n++) {
		u64 t0, late_us;

		irqs[n] = 0;
		t0 = rdtsc();
		hpet_wr(TCMP(n), hpet_rd(COUNTER) + 10 * TICKS_PER_MS);
		hpet_wr(TCFG(n), TN_ENABLE | TN_ROUTE(20 + n));
		sleep_ms(60);
		if (irqs[n] != 1)
			guest_fail("timer %u one-shot: %lu interrupts", n,
				   irqs[n]);
		late_us = dev_tsc_to_us(irq_tsc[n] - t0);
		if (late_us < 9900 || late_us > 40000)
			guest_fail(
			    "timer %u one-shot of 10 ms fired after %lu us", n,
			    late_us);
		hpet_wr(TCFG(n), 0);
		gprintf("hpet: timer %u one-shot ok (10 ms -> %lu us)\n", n,
			late_us);
	}
}

static void test_periodic_each_timer(void)
{
	for (unsigned n = 0; n < 3; n++) {
		u64 t0, us, expect;

		hpet_wr(TCFG(n), TN_ENABLE | TN_PERIODIC | TN_VAL_SET |
				     TN_ROUTE(20 + n));
		hpet_wr(TCMP(n), hpet_rd(COUNTER) + 2 * TICKS_PER_MS);
		hpet_wr(TCMP(n), 2 * TICKS_PER_MS); /* 500 Hz */
		irqs[n] = 0;
		t0 = rdtsc();
		sleep_ms(200);
		hpet_wr(TCFG(n), 0);
		us = dev_tsc_to_us(rdtsc() - t0);
		expect = us / 2000;
		if (irqs[n] > expect + expect / 10 + 2 ||
		    irqs[n] + 2 < expect / 2)
			guest_fail("timer %u periodic 500 Hz: %lu interrupts "
				   "in %lu us",
				   n, irqs[n], us);
		gprintf(
		    "hpet: timer %u periodic ok (%lu interrupts in %lu us)\n",
		    n, irqs[n], us);
	}
}

static void test_level_and_32bit(void)
{
	u64 cnt;

	ioapic_route(23, VEC_LEVEL, lapic_id(), true, false);
	irqs[3] = 0;
	hpet_wr(TCMP(2), hpet_rd(COUNTER) + 5 * TICKS_PER_MS);
	hpet_wr(TCFG(2), TN_LEVEL | TN_ENABLE | TN_ROUTE(23));
	sleep_ms(40);
	/* One assertion, seen by the handler with its status bit, cleared by
	 * the write-1-to-clear.  This host's in-kernel IOAPIC has been seen
	 * to deliver a level interrupt a second time right after the EOI
	 * even though the line was lowered before it (remote IRR clear in
	 * the second handler): tolerated, and reported in the output. */
	if (level_with_status != 1 || irqs[3] > 2 || (hpet_rd(STATUS) & 4))
		guest_fail("level timer: %lu interrupts (%lu with the status "
			   "bit), status now 0x%lx",
			   irqs[3], level_with_status, hpet_rd(STATUS));
	hpet_wr(TCFG(2), 0);
	gprintf("hpet: level-triggered ok (%lu deliveries)\n", irqs[3]);

	/* 32-bit one-shot: an interrupt at the low half's wrap (5 ms), then
	 * at the comparator (5 ms after it). */
	hpet_wr(CONFIG, 0);
	hpet_wr(COUNTER, 0x1ffffffffull - 5 * TICKS_PER_MS);
	hpet_wr(TCFG(1), TN_ENABLE | TN_32BIT | TN_ROUTE(21));
	hpet_wr(TCMP(1), 0xffffffff00000000ull | 5 * TICKS_PER_MS);
	cnt = hpet_rd(TCMP(1));
	if (cnt != 5 * TICKS_PER_MS)
		guest_fail("32-bit comparator reads 0x%lx", cnt);
	irqs[1] = 0;
	hpet_wr(CONFIG, 1);
	sleep_ms(40);
	hpet_wr(TCFG(1), 0);
	if (irqs[1] != 2)
		guest_fail("32-bit one-shot across the wrap: %lu interrupts, 2 "
			   "expected",
			   irqs[1]);
	gprintf("hpet: 32-bit mode ok\n");
}

static void test_legacy_replacement(void)
{
	u64 pit_before, silent, legacy0, pit_after;

	ioapic_route(2, VEC_IRQ0, lapic_id(), false, false);
	ioapic_route(8, VEC_IRQ8, lapic_id(), false, false);
	dev_pit_periodic(1193); /* ~1 kHz */
	irq0s = 0;
	sleep_ms(100);
	pit_before = irq0s;
	hpet_wr(CONFIG, 3); /* enable + LEG_RT_CNF */
	sleep_ms(5);
	irq0s = 0;
	sleep_ms(100);
	silent = irq0s;
	hpet_wr(TCFG(0), TN_ENABLE | TN_PERIODIC | TN_VAL_SET);
	hpet_wr(TCMP(0), hpet_rd(COUNTER) + 10 * TICKS_PER_MS);
	hpet_wr(TCMP(0), 10 * TICKS_PER_MS); /* 100 Hz on IRQ 0 */
	hpet_wr(TCMP(1), hpet_rd(COUNTER) + 20 * TICKS_PER_MS);
	hpet_wr(TCFG(1), TN_ENABLE); /* one-shot on IRQ 8 */
	irq0s = irq8s = 0;
	sleep_ms(200);
	legacy0 = irq0s;
	hpet_wr(TCFG(0), 0);
	hpet_wr(TCFG(1), 0);
	hpet_wr(CONFIG, 1);
	sleep_ms(5);
	irq0s = 0;
	sleep_ms(100);
	pit_after = irq0s;
	ioapic_mask(2);
	gprintf("hpet: IRQ 0 per 100 ms: PIT %lu, legacy and idle %lu, PIT "
		"after %lu; "
		"timer 0 on IRQ 0 %lu in 200 ms, timer 1 on IRQ 8 %lu\n",
		pit_before, silent, pit_after, legacy0, irq8s);
	if (pit_before < 30)
		guest_fail("the PIT gave %lu interrupts in 100 ms before "
			   "legacy routing",
			   pit_before);
	if (silent != 0)
		guest_fail(
		    "the PIT still interrupted (%lu) under legacy replacement",
		    silent);
	if (legacy0 < 12 || legacy0 > 22 || irq8s != 1)
		guest_fail("legacy routing: timer 0 %lu on IRQ 0 (20 "
			   "expected), timer 1 %lu on IRQ 8",
			   legacy0, irq8s);
	if (pit_after < 30)
		guest_fail("the PIT gave %lu interrupts in 100 ms after legacy "
			   "routing",
			   pit_after);
	gprintf("hpet: legacy replacement ok\n");
}

int guest_main(void)
{
	dev_timing_init();
	for (unsigned n = 0; n < 3; n++) {
		irq_register(VEC_TIMER + n, timer_irq);
		ioapic_route(20 + n, VEC_TIMER + n, lapic_id(), false, false);
	}
	irq_register(VEC_LEVEL, level_irq);
	irq_register(VEC_IRQ0, irq0_handler);
	irq_register(VEC_IRQ8, irq8_handler);
	test_caps_and_rate();
	test_one_shot_each_timer();
	test_periodic_each_timer();
	test_level_and_32bit();
	test_legacy_replacement();
	hpet_wr(CONFIG, 0);
	return GUEST_EXIT_PASS;
}

/* The in-kernel 8254 PIT, channel 0 in mode 2 (rate generator) on IRQ 0,
 * as a guest sees it two ways (Intel 8254 datasheet; PC routing of the
 * MADT: ISA IRQ 0 arrives at IOAPIC pin 2, interrupt source override):
 *
 *   pic     through the 8259 master (vector 0x20 after the remap) and the
 *           LAPIC's LINT0 in ExtINT mode; the handler sees IRQ 0 in the
 *           PIC's ISR and ends it with a non-specific EOI
 *   ioapic  through IOAPIC pin 2, the 8259s masked; pin 0 stays silent
 *
 * each at 100 Hz (count 11932) and 1 kHz (count 1193), plus 18.2 Hz
 * (count 0 = 65536) through the IOAPIC; rates against the TSC at
 * kvmclock's rate, counted while the CPU spins in ring 3.  Also: the
 * counter latch and the read-back status (mode 2, lo/hi access).
 * Prints "pit: <case> ok" per case. */
#include "dev_timing.h"

#define VEC_PIC	    0x20 /* master 8259 base after pic_disable() */
#define VEC_PIN2    0x32
#define VEC_PIN0    0x33
#define LVT_LINT0   0x350
#define LVT_EXTINT  (7u << 8)
#define LVT_MASKED  (1u << 16)

static volatile u64 irqs, first, last, pin0_irqs, pic_isr_missing;

static void count_irq(void)
{
	u64 t = rdtsc();

	if (irqs++ == 0)
		first = t;
	last = t;
}

static void pic_irq(struct irq_frame *f)
{
	(void)f;
	outb(0x20, 0x0b); /* OCW3: read ISR */
	if (!(inb(0x20) & 1))
		pic_isr_missing++;
	outb(0x20, 0x20); /* OCW2: non-specific EOI */
	count_irq();
}

static void pin2_irq(struct irq_frame *f)
{
	(void)f;
	count_irq();
}

static void pin0_irq(struct irq_frame *f)
{
	(void)f;
	pin0_irqs++;
}

static volatile u64 spin_end;
static u64 stall_sum;

/* Spins in ring 3 until spin_end, adding up gaps of over 100 us: the host
 * not running the vCPU, or an interrupt's delivery taking that long (under
 * nested KVM in emulation each costs about a millisecond, and a 1 kHz
 * timer then leaves the vCPU no time to take the next one). */
static u64 user_spin(u64 arg)
{
	u64 prev = rdtsc(), now, ms = dev_ms_to_tsc(1) / 10;

	(void)arg;
	while ((now = rdtsc()) < spin_end) {
		if (now - prev > ms)
			stall_sum += now - prev;
		prev = now;
	}
	return 0;
}

static void spin_ms(u64 ms)
{
	spin_end = rdtsc() + dev_ms_to_tsc(ms);
	irq_enable();
	run_user(user_spin, 0);
	irq_disable();
}

static void pit_stop(void)
{
	outb(0x43, 0x30); /* channel 0, lo/hi, mode 0: one count, then idle */
	outb(0x40, 0xff);
	outb(0x40, 0xff);
}

/* Runs channel 0 at 1193182/count Hz for `ms` and checks the rate. */
static void rate(const char *path, u16 count, u64 ms)
{
	u64 divisor = count ? count : 65536, t0, us, expect, floor, hi,
	    mean_ppm;

	irqs = 0;
	stall_sum = 0;
	t0 = rdtsc();
	dev_pit_periodic(count);
	spin_ms(ms);
	irq_disable();
	us = dev_tsc_to_us(rdtsc() - t0);
	pit_stop();
	/* KVM's PIT re-injects ticks missed while the vCPU did not take
	 * them, so the count catches up; stalls still get their share. */
	expect = us * DEV_PIT_HZ / divisor / 1000000;
	hi = expect + expect / 50 + 2;
	floor = (us - dev_tsc_to_us(stall_sum)) * DEV_PIT_HZ / divisor /
		1000000 * 4 / 5;
	mean_ppm = irqs > 1 ? dev_tsc_to_us(last - first) * DEV_PIT_HZ /
				  divisor / (irqs - 1)
			    : 0;
	gprintf("pit:   %s %lu Hz (count %lu): %lu interrupts in %lu us "
		"(vCPU stalled %lu us), mean period %lu.%03lu x nominal\n",
		path, (u64)(DEV_PIT_HZ / divisor), divisor, irqs, us,
		dev_tsc_to_us(stall_sum), mean_ppm / 1000000,
		mean_ppm % 1000000 / 1000);
	if (irqs > hi || irqs < floor || irqs < 2)
		guest_fail("%s: count %lu: %lu interrupts in %lu us, %lu..%lu "
			   "expected",
			   path, divisor, irqs, us, floor, hi);
	/* with the vCPU running throughout, the mean period is the PIT's */
	if (stall_sum * 20 < rdtsc() - t0 &&
	    (mean_ppm < 980000 || mean_ppm > 1100000))
		guest_fail("%s: count %lu: mean period %lu ppm of nominal",
			   path, divisor, mean_ppm);
	spin_ms(30); /* let queued ticks drain before the next case */
}

static void test_latch_and_readback(void)
{
	u16 a, b;
	u8 status;

	dev_pit_periodic(59659); /* 20 Hz: a slow count to read */
	outb(0x43, 0x00);	 /* counter latch, channel 0 */
	a = inb(0x40);
	a |= (u16)inb(0x40) << 8;
	spin_ms(5);
	outb(0x43, 0x00);
	b = inb(0x40);
	b |= (u16)inb(0x40) << 8;
	outb(0x43, 0xe2); /* read-back: status only, channel 0 */
	status = inb(0x40);
	pit_stop();
	gprintf("pit:   latched %u then %u (5 ms apart), status 0x%02x\n", a,
		b, status);
	/* mode 2 counts N..1; 5 ms is ~5966 counts (one wrap at most) */
	if (a == 0 || a > 59659 || b == 0 || b > 59659 || a == b)
		guest_fail("latched counts %u and %u", a, b);
	if ((status & 0x3f) != 0x34)
		guest_fail("read-back status 0x%02x: lo/hi, mode 2, binary "
			   "expected (0x34)",
			   status);
	gprintf("pit: latch ok\n");
}

int guest_main(void)
{
	dev_khz = dev_khz_from_kvmclock();
	if (!dev_khz)
		guest_fail("no kvmclock: the TSC rate is unknown");
	gprintf("pit: tsc %lu kHz (kvmclock)\n", dev_khz);
	pic_disable();
	lapic_enable();
	irq_register(VEC_PIC, pic_irq);
	irq_register(VEC_PIN2, pin2_irq);
	irq_register(VEC_PIN0, pin0_irq);
	test_latch_and_readback();

	/* 8259: IRQ 0 unmasked, LINT0 in ExtINT mode, IOAPIC pin 2 masked */
	ioapic_mask(2);
	mmio_write32(LAPIC_BASE + LVT_LINT0, LVT_EXTINT);
	outb(0x21, 0xfe);
	rate("pic", 11932, 1000);
	rate("pic", 1193, 500);
	outb(0x21, 0xff);
	mmio_write32(LAPIC_BASE + LVT_LINT0, LVT_MASKED);
	if (pic_isr_missing)
		guest_fail("pic: %lu handlers found IRQ 0 not in service",
			   pic_isr_missing);
	gprintf("pit: pic ok\n");

	/* IOAPIC pin 2 (the override); pin 0 routed too and silent */
	ioapic_route(2, VEC_PIN2, lapic_id(), false, false);
	ioapic_route(0, VEC_PIN0, lapic_id(), false, false);
	rate("ioapic", 11932, 1000);
	rate("ioapic", 1193, 500);
	rate("ioapic", 0, 1000);
	ioapic_mask(2);
	ioapic_mask(0);
	if (pin0_irqs)
		guest_fail("ioapic: pin 0 took %lu interrupts; IRQ 0 belongs "
			   "on pin 2",
			   pin0_irqs);
	gprintf("pit: ioapic ok\n");
	return GUEST_EXIT_PASS;
}

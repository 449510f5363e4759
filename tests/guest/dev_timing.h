/* Timing helpers shared by the device-model guests (dev_*.c), header-only
 * because every C file in tests/guest is a guest of its own.
 *
 * dev_timing_init() sets up a 10 Hz LAPIC-timer wake-up (so that a guest
 * waiting in hlt for an interrupt that never comes fails instead of
 * hanging) and finds the TSC rate from a source the device models do not
 * drive: KVM's pvclock (MSR_KVM_SYSTEM_TIME_NEW: KVM publishes the exact
 * TSC-to-nanosecond factor), else PIT channel 2 through port 0x61, else
 * the in-kernel PIT's IRQ 0 (IOAPIC pin 2) over 20 periods of 10 ms. */
#ifndef DEV_TIMING_H
#define DEV_TIMING_H

#include "guest.h"

#define DEV_VEC_TICK 0x30
#define DEV_VEC_PIT  0x31
#define DEV_PIT_HZ   1193182ull

static u64 dev_khz;
static volatile u64 dev_ticks, dev_pit_irqs, dev_pit_first, dev_pit_last;

static void dev_tick_irq(struct irq_frame *f)
{
	(void)f;
	dev_ticks++;
}

static void dev_pit_irq(struct irq_frame *f)
{
	u64 t = rdtsc();

	(void)f;
	if (dev_pit_irqs++ == 0)
		dev_pit_first = t;
	dev_pit_last = t;
}

/* PIT channel 0, mode 2 (rate generator), `count` ticks per period. */
static inline void dev_pit_periodic(u16 count)
{
	outb(0x43, 0x34);
	outb(0x40, count & 0xff);
	outb(0x40, count >> 8);
}

static inline u64 dev_ms_to_tsc(u64 ms)
{
	return ms * dev_khz;
}

static inline u64 dev_tsc_to_us(u64 t)
{
	return t * 1000 / dev_khz;
}

/* Halts until cond() or `ms` passed (measured in wake-up ticks as well, in
 * case the TSC rate is wrong). */
static inline bool dev_wait(bool (*cond)(void), u64 ms)
{
	u64 end = rdtsc() + dev_ms_to_tsc(ms),
	    ticks_end = dev_ticks + ms / 100 + 20;

	while (!cond()) {
		if (rdtsc() >= end || dev_ticks >= ticks_end)
			return cond();
		irq_wait();
	}
	return true;
}

/* KVM's pvclock page (Documentation/virt/kvm/x86/msr.rst). */
struct dev_pvclock {
	u32 version, pad0;
	u64 tsc_timestamp, system_time;
	u32 tsc_to_system_mul;
	signed char tsc_shift;
	u8 flags, pad[2];
} __attribute__((packed));

static struct dev_pvclock dev_pvclock_page __attribute__((aligned(64)));

/* ns = ((tsc shifted by tsc_shift) * mul) >> 32, so the TSC runs at
 * 1e6 * 2^32 / mul / 2^shift kHz. */
static inline u64 dev_khz_from_kvmclock(void)
{
	u32 r[4];
	u64 khz;

	cpuid(0x40000000, 0, r);
	if (r[1] != 0x4b4d564b || r[0] < 0x40000001) /* "KVMK" */
		return 0;
	cpuid(0x40000001, 0, r);
	if (!(r[0] & (1u << 3))) /* KVM_FEATURE_CLOCKSOURCE2 */
		return 0;
	wrmsr(0x4b564d01, (u64)&dev_pvclock_page | 1);
	for (unsigned i = 0; i < 1000000 && !dev_pvclock_page.tsc_to_system_mul;
	     i++)
		cpu_relax();
	wrmsr(0x4b564d01, 0);
	if (!dev_pvclock_page.tsc_to_system_mul)
		return 0;
	khz = (1000000ull << 32) / dev_pvclock_page.tsc_to_system_mul;
	if (dev_pvclock_page.tsc_shift >= 0)
		khz >>= dev_pvclock_page.tsc_shift;
	else
		khz <<= -dev_pvclock_page.tsc_shift;
	return khz;
}

/* Reads a counter with the TSC around it, retrying until the read took
 * under 200 us (a descheduled vCPU would skew a rate measurement); the
 * TSC of the read is the middle of the bracket. */
static inline u64 dev_sample(u64 (*read)(void), u64 *tsc)
{
	u64 a, b, v;

	for (unsigned i = 0;; i++) {
		a = rdtsc();
		v = read();
		b = rdtsc();
		if (b - a < dev_ms_to_tsc(1) / 5 || i == 50)
			break;
	}
	*tsc = a + (b - a) / 2;
	return v;
}

static bool dev_pit_done(void)
{
	return dev_pit_irqs >= 21;
}

static inline void dev_timing_init(void)
{
	pic_disable();
	lapic_enable();
	irq_register(DEV_VEC_TICK, dev_tick_irq);
	irq_register(DEV_VEC_PIT, dev_pit_irq);
	/* ~10 Hz at KVM's 1 GHz APIC bus clock; only a wake-up. */
	mmio_write32(LAPIC_BASE + 0x3e0, 0x3); /* divide by 16 */
	mmio_write32(LAPIC_BASE + 0x320,
		     DEV_VEC_TICK | 1u << 17); /* periodic */
	mmio_write32(LAPIC_BASE + 0x380, 6250000);
	dev_khz = dev_khz_from_kvmclock();
	if (dev_khz) {
		gprintf("tsc: %lu kHz from kvmclock\n", dev_khz);
		return;
	}
	dev_khz = tsc_calibrate_pit();
	if (!dev_khz) {
		dev_khz = 3000000; /* only for dev_wait's bound below */
		dev_pit_irqs = 0;
		ioapic_route(2, DEV_VEC_PIT, lapic_id(), false, false);
		dev_pit_periodic(11932); /* 10.0001 ms */
		if (!dev_wait(dev_pit_done, 2000) && dev_pit_irqs < 3)
			guest_fail(
			    "no TSC reference: PIT IRQ 0 gave %lu interrupts",
			    dev_pit_irqs);
		ioapic_mask(2);
		dev_khz = (dev_pit_last - dev_pit_first) * DEV_PIT_HZ /
			  (11932 * (dev_pit_irqs - 1)) / 1000;
		gprintf("tsc: %lu kHz from PIT IRQ 0\n", dev_khz);
	} else {
		gprintf("tsc: %lu kHz from PIT channel 2\n", dev_khz);
	}
	if (dev_khz < 100000 || dev_khz > 10000000)
		guest_fail("TSC rate %lu kHz is implausible", dev_khz);
}

#endif

/* Save/restore with every timer armed (issue 6 (a)): the LAPIC timer
 * (periodic, 100 Hz), HPET timer 0 (periodic, 100 Hz, IOAPIC pin 20), the
 * RTC's periodic interrupt (64 Hz, IRQ 8 on IOAPIC pin 8) and the PIT
 * (channel 0, mode 2, 100 Hz, IRQ 0 on IOAPIC pin 2), each counted by a
 * tiny ring-0 handler.  A ring-3 loop reads kvmclock (the clock a restored
 * guest keeps: on this host the raw TSC jumps across a restore) and once a
 * second of it prints
 *   snaptimers: t=N ms=W stall=S lapic=A hpet=B rtc=C pit=D
 * the interrupts each timer gave in that window of W ms, of which the vCPU
 * did not run for S ms (gaps of over 1 ms between two clock reads: on a
 * busy host a vCPU thread waits for a core now and then, and periods that
 * end meanwhile coalesce).  It fails by
 * itself when a timer is ever faster than programmed over the whole run
 * (counts against elapsed kvmclock time, across any restore) or gives
 * nothing for 3 windows in a row; judging each window's rate is the
 * system test's job (it knows which window held the restore).  After
 * secs=S (default 12) seconds it stops the timers, prints
 * "snaptimers: done" and exits with status=V (default 0x15: hyve exit
 * status (V << 1) | 1). */
#include "dev_timing.h"

#define VEC_LAPIC 0x40
#define VEC_HPET  0x41
#define VEC_RTC	  0x42
#define VEC_PIT	  0x43
#define HPET	  0xFED00000ull
#define NTIMERS	  4

static const char *const names[NTIMERS] = {"lapic", "hpet", "rtc", "pit"};
static const u64 hz[NTIMERS] = {100, 100, 64, 100};
static volatile u64 count[NTIMERS];

static struct dev_pvclock pvclock __attribute__((aligned(64)));

static void tick(struct irq_frame *f)
{
	count[f->vector - VEC_LAPIC]++;
}

static void rtc_tick(struct irq_frame *f)
{
	outb(0x70, 0x0c); /* register C: read clears it and lowers IRQ 8 */
	if (inb(0x71) & 0x40)
		tick(f);
}

static u64 kvmclock_ns(void)
{
	u32 v;
	u64 ns, d;

	do {
		v = *(volatile u32 *)&pvclock.version;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		d = rdtsc() - pvclock.tsc_timestamp;
		if (pvclock.tsc_shift >= 0)
			d <<= pvclock.tsc_shift;
		else
			d >>= -pvclock.tsc_shift;
		ns = pvclock.system_time +
		     (u64)(((unsigned __int128)d * pvclock.tsc_to_system_mul) >>
			   32);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((v & 1) || v != *(volatile u32 *)&pvclock.version);
	return ns;
}

static u64 secs;
/* kvmclock when the timers were started: the bound on their counts runs
 * from here, not from the first second's start (the "armed" line before
 * it is a serial write that takes long where exits are slow). */
static u64 armed_ns;

/* Ring 3: one line per kvmclock second; 0 when done, 1 on failure. */
static u64 user_loop(u64 arg)
{
	u64 start = kvmclock_ns(), mark = start, prev[NTIMERS] = {0},
	    dead[NTIMERS] = {0};

	(void)arg;
	for (u64 t = 1; t <= secs; t++) {
		u64 now, c[NTIMERS], last = kvmclock_ns(), stall = 0;

		while ((now = kvmclock_ns()) < start + t * 1000000000ull) {
			if (now - last > 1000000)
				stall += now - last;
			last = now;
		}
		for (unsigned i = 0; i < NTIMERS; i++)
			c[i] = count[i];
		gprintf("snaptimers: t=%lu ms=%lu stall=%lu lapic=%lu hpet=%lu "
			"rtc=%lu pit=%lu\n",
			t, (now - mark) / 1000000, stall / 1000000, c[0] - prev[0],
			c[1] - prev[1], c[2] - prev[2], c[3] - prev[3]);
		for (unsigned i = 0; i < NTIMERS; i++) {
			/* never faster than programmed, over the whole run */
			u64 most = (now - armed_ns) / 1000 * hz[i] / 1000000;

			if (c[i] > most + most / 50 + 3) {
				gprintf("FAIL: guest: %s: %lu interrupts in %lu "
					"ms, at most %lu expected\n",
					names[i], c[i],
					(now - armed_ns) / 1000000, most);
				return 1;
			}
			dead[i] = c[i] == prev[i] ? dead[i] + 1 : 0;
			if (dead[i] >= 3) {
				gprintf("FAIL: guest: %s gave no interrupt for "
					"%lu seconds\n",
					names[i], dead[i]);
				return 1;
			}
			prev[i] = c[i];
		}
		mark = now;
	}
	return 0;
}

static void hpet_wr(u64 off, u64 v)
{
	*(volatile u64 *)(HPET + off) = v;
}

static u64 hpet_rd(u64 off)
{
	return *(volatile u64 *)(HPET + off);
}

static void timers_start(void)
{
	u32 id = lapic_id();

	/* LAPIC: 1 GHz bus / 16, 625000 -> 10 ms */
	mmio_write32(LAPIC_BASE + 0x3e0, 0x3);
	mmio_write32(LAPIC_BASE + 0x320, VEC_LAPIC | 1u << 17);
	mmio_write32(LAPIC_BASE + 0x380, 625000);
	/* HPET timer 0: periodic, GSI 20, 10 ms at 100 MHz */
	ioapic_route(20, VEC_HPET, id, false, false);
	hpet_wr(0x010, 0);
	hpet_wr(0x100, 1u << 2 | 1u << 3 | 1u << 6 | 20u << 9);
	hpet_wr(0x108, hpet_rd(0x0f0) + 1000000);
	hpet_wr(0x108, 1000000);
	hpet_wr(0x010, 1);
	/* RTC: rate select 10 (64 Hz), periodic interrupt enable */
	ioapic_route(8, VEC_RTC, id, false, false);
	outb(0x70, 0x0a);
	outb(0x71, 0x2a);
	outb(0x70, 0x0b);
	outb(0x71, 0x42); /* PIE, 24-hour */
	outb(0x70, 0x0c);
	inb(0x71);
	/* PIT channel 0, mode 2, 11932 -> 100.0 Hz, IRQ 0 on pin 2 */
	ioapic_route(2, VEC_PIT, id, false, false);
	dev_pit_periodic(11932);
}

static void timers_stop(void)
{
	mmio_write32(LAPIC_BASE + 0x380, 0);
	hpet_wr(0x010, 0);
	outb(0x70, 0x0b);
	outb(0x71, 0x02);
	ioapic_mask(2);
	ioapic_mask(8);
	ioapic_mask(20);
}

int guest_main(void)
{
	u64 status = mb_arg_u64("status", 0x15);

	secs = mb_arg_u64("secs", 12);
	pic_disable();
	lapic_enable();
	wrmsr(0x4b564d01, (u64)&pvclock | 1); /* MSR_KVM_SYSTEM_TIME_NEW */
	if (!kvmclock_ns())
		guest_fail("kvmclock did not start");
	irq_register(VEC_LAPIC, tick);
	irq_register(VEC_HPET, tick);
	irq_register(VEC_RTC, rtc_tick);
	irq_register(VEC_PIT, tick);
	armed_ns = kvmclock_ns();
	timers_start();
	gprintf("snaptimers: armed lapic %lu Hz, hpet %lu Hz, rtc %lu Hz, pit "
		"%lu Hz\n",
		hz[0], hz[1], hz[2], hz[3]);
	irq_enable();
	if (run_user(user_loop, 0))
		exit_guest(GUEST_EXIT_FAIL);
	irq_disable();
	timers_stop();
	gprintf("snaptimers: done\n");
	exit_guest((u32)status);
}

/* The ACPI PM timer and PM1 blocks as a guest sees them: the counter's
 * rate against the TSC (3.579545 MHz), 32 bits wide, the same value at
 * every read width, SCI_EN set from reset, TMR_STS write-1-to-clear, and
 * finally the \_S5 sleep (SLP_TYP 5 + SLP_EN) that powers the machine off:
 * hyve must then exit with status 1 without the guest's own exit. */
#include "dev_timing.h"

#define PM1_STS 0x600
#define PM1_EN	0x602
#define PM1_CNT 0x604
#define PM_TMR	0x608

static u64 pm_read(void)
{
	return inl(PM_TMR);
}

static void test_rate(void)
{
	u64 t0, t1, us, hz;
	u32 p0, p1;

	p0 = (u32)dev_sample(pm_read, &t0);
	while (rdtsc() - t0 < dev_ms_to_tsc(300))
		cpu_relax();
	p1 = (u32)dev_sample(pm_read, &t1);
	us = dev_tsc_to_us(t1 - t0);
	hz = (u64)(p1 - p0) * 1000000 / us;
	gprintf("pmtimer: %lu Hz against the TSC (%u ticks in %lu us)\n", hz,
		p1 - p0, us);
	if (hz < 3543749 || hz > 3615341) /* +-1% */
		guest_fail("PM timer runs at %lu Hz, 3579545 expected", hz);
	gprintf("pmtimer: rate ok\n");
}

static void test_widths_and_blocks(void)
{
	u32 a = inl(PM_TMR);
	u16 w = inw(PM_TMR);
	u8 b = inb(PM_TMR + 3);
	u32 c = inl(PM_TMR);

	/* Reads a few hundred us apart on emulated ring 0: same high bits,
	 * low word moving forward. */
	if ((u16)(w - (u16)a) > 20000 ||
	    (b != (u8)(c >> 24) && b != (u8)(a >> 24)))
		guest_fail("narrow reads disagree: l %08x w %04x b %02x l %08x",
			   a, w, b, c);
	outl(PM_TMR, 0);
	if (inl(PM_TMR) - c > 100000)
		guest_fail("a write moved the read-only counter");
	if ((inw(PM1_CNT) & 1) != 1)
		guest_fail("SCI_EN clear in PM1_CNT 0x%x", inw(PM1_CNT));
	outw(PM1_STS, 0xffff);
	if (inw(PM1_STS) & ~1u)
		guest_fail("PM1_STS 0x%x after write-1-to-clear", inw(PM1_STS));
	outw(PM1_EN, 0x0100);
	if (inw(PM1_EN) != 0x0100)
		guest_fail("PM1_EN reads 0x%x, 0x0100 written", inw(PM1_EN));
	outw(PM1_EN, 0);
	gprintf("pmtimer: registers ok\n");
}

int guest_main(void)
{
	dev_timing_init();
	test_rate();
	test_widths_and_blocks();
	gprintf("pmtimer: entering S5\n");
	outw(PM1_CNT, 5 << 10 | 1 << 13 | 1);
	for (u64 t0 = rdtsc(); rdtsc() - t0 < dev_ms_to_tsc(500);)
		cpu_relax();
	guest_fail("still running 500 ms after entering S5");
}

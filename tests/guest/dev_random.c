/* Random values at every register of every device hyve emulates, at every
 * width (1, 2, 4 and, for MMIO, 8 bytes) and at unaligned offsets: COM1,
 * COM2, the RTC, the PM blocks, the reset register, the 8042 and the HPET.
 * Writes that would legitimately end the machine (a reset, S5) are
 * defused; everything else goes in as drawn.  Afterwards every device must
 * still answer sanely and the guest must still run.  Interrupt lines the
 * writes may raise reach nothing: the 8259s and IOAPIC pins stay masked.
 * Ring 0 is emulated slowly here, so the counts stay in the thousands.
 * cmdline: seed=N (default 1), rounds=N (default 4000 per device). */
#include "dev_timing.h"

#define HPET 0xFED00000ull

static u64 rng;

static u64 rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A port write with the reset and power-off bits taken out. */
static void port_write(u16 port, u32 v, unsigned width)
{
	for (unsigned i = 0; i < width; i++) {
		u16 p = (u16)(port + i);
		u8 *b = (u8 *)&v + i;

		if (p == 0x605)
			*b &= ~0x20; /* PM1_CNT SLP_EN */
		if (p == 0xcf9)
			*b &= ~0x04; /* RST_CPU */
		if (p == 0x64) {
			if ((*b & 0xf0) == 0xf0)
				*b |= 0x01; /* pulse without the reset line */
			if (*b == 0xd1)
				*b = 0xd0; /* no output-port write (bit 0 =
					      reset) */
		}
	}
	if (width == 1)
		outb(port, (u8)v);
	else if (width == 2)
		outw(port, (u16)v);
	else
		outl(port, v);
}

static void port_read(u16 port, unsigned width)
{
	if (width == 1)
		(void)inb(port);
	else if (width == 2)
		(void)inw(port);
	else
		(void)inl(port);
}

/* `n` random accesses to ports [base - 1, base + len], half of them
 * writes; 0xf4 (debug exit) is never touched. */
static void hammer_ports(u16 base, u16 len, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		u64 r = rnd();
		u16 port = (u16)(base - 1 + r % (len + 2));
		unsigned width = 1u << ((r >> 16) % 3);

		if (port >= 0xf1 && port <= 0xf7)
			continue;
		if ((r >> 20) & 1)
			port_write(port, (u32)rnd(), width);
		else
			port_read(port, width);
	}
}

static void hammer_hpet(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		u64 r = rnd(), v = rnd() >> (r % 64);
		u64 addr = HPET + (r >> 8) % 0x400;
		unsigned width = 1u << ((r >> 20) % 4);

		if (addr + width > HPET + 0x400)
			continue;
		if ((r >> 24) & 1) {
			if (width == 1)
				*(volatile u8 *)addr = (u8)v;
			else if (width == 2)
				*(volatile u16 *)addr = (u16)v;
			else if (width == 4)
				*(volatile u32 *)addr = (u32)v;
			else
				*(volatile u64 *)addr = v;
		} else {
			if (width == 1)
				(void)*(volatile u8 *)addr;
			else if (width == 2)
				(void)*(volatile u16 *)addr;
			else if (width == 4)
				(void)*(volatile u32 *)addr;
			else
				(void)*(volatile u64 *)addr;
		}
	}
}

static u8 cmos_read(u8 idx)
{
	outb(0x70, idx);
	return inb(0x71);
}

static void check_devices_answer(void)
{
	u32 p0, p1;
	u64 c0, c1;

	/* RTC: back to a running 24-hour BCD clock. */
	outb(0x70, 0x0a);
	outb(0x71, 0x26);
	outb(0x70, 0x0b);
	outb(0x71, 0x02);
	(void)cmos_read(0x0c);
	if (cmos_read(0x0d) != 0x80 || (cmos_read(0x0a) & 0x7f) != 0x26 ||
	    cmos_read(0x0b) != 0x02)
		guest_fail("RTC: D 0x%x A 0x%x B 0x%x after the random writes",
			   cmos_read(0x0d), cmos_read(0x0a), cmos_read(0x0b));
	/* HPET: capabilities intact, counter runs again. */
	*(volatile u64 *)(HPET + 0x10) = 0;
	*(volatile u64 *)(HPET + 0x20) = 7;
	for (unsigned n = 0; n < 3; n++)
		*(volatile u64 *)(HPET + 0x100 + 0x20 * n) = 0;
	*(volatile u64 *)(HPET + 0x10) = 1;
	c0 = *(volatile u64 *)(HPET + 0xf0);
	for (u64 t = rdtsc(); rdtsc() - t < dev_ms_to_tsc(2);)
		cpu_relax();
	c1 = *(volatile u64 *)(HPET + 0xf0);
	if ((u32) * (volatile u64 *)HPET != 0x8086a201u || c1 - c0 < 100000 ||
	    c1 - c0 > 10000000)
		guest_fail("HPET: caps 0x%lx, counter moved %lu in 2 ms",
			   *(volatile u64 *)HPET, c1 - c0);
	*(volatile u64 *)(HPET + 0x10) = 0;
	/* PM timer still counts; SCI_EN still set. */
	p0 = inl(0x608);
	for (u64 t = rdtsc(); rdtsc() - t < dev_ms_to_tsc(2);)
		cpu_relax();
	p1 = inl(0x608);
	if (p1 - p0 < 3500 || p1 - p0 > 400000 || !(inw(0x604) & 1))
		guest_fail("PM timer moved %u in 2 ms, PM1_CNT 0x%x", p1 - p0,
			   inw(0x604));
	/* 8042: the self-test still answers. */
	for (unsigned i = 0; i < 4 && (inb(0x64) & 1); i++)
		(void)inb(0x60);
	outb(0x64, 0xaa);
	if (!(inb(0x64) & 1) || inb(0x60) != 0x55)
		guest_fail("8042 self-test does not answer 0x55 after the "
			   "random writes");
	/* COM2: loopback still loops. */
	outb(0x2f8 + 3, 0x03);
	outb(0x2f8 + 2, 0x07);
	outb(0x2f8 + 4, 0x10);
	outb(0x2f8, 0x5a);
	if (inb(0x2f8 + 5) != 0x61 || inb(0x2f8) != 0x5a)
		guest_fail("COM2 loopback broken after the random writes");
	outb(0x2f8 + 4, 0x00);
}

int guest_main(void)
{
	unsigned rounds = (unsigned)mb_arg_u64("rounds", 4000);

	rng = mb_arg_u64("seed", 1) * 0x9e3779b97f4a7c15ull | 1;
	dev_timing_init();
	gprintf("random: seed %lu, %u accesses per device\n",
		mb_arg_u64("seed", 1), rounds);
	hammer_ports(0x2f8, 8, rounds);	    /* COM2 */
	hammer_ports(0x70, 2, rounds);	    /* RTC and CMOS */
	hammer_ports(0x600, 12, rounds);    /* PM1 blocks and PM timer */
	hammer_ports(0xcf9, 1, rounds / 4); /* reset control */
	hammer_ports(0x60, 1, rounds / 4);  /* 8042 data */
	hammer_ports(0x64, 1, rounds / 4);  /* 8042 command/status */
	hammer_hpet(rounds * 2);
	/* COM1 last: it is the console, so output may be garbled until the
	 * library sets it up again. */
	hammer_ports(0x3f8, 8, rounds);
	serial_init();
	gprintf("\nrandom: writes done\n");
	check_devices_answer();
	gprintf("random: devices answer ok\n");
	return GUEST_EXIT_PASS;
}

/* Local APIC (xAPIC MMIO, SDM vol. 3 ch. 11), I/O APIC (82093AA datasheet),
 * 8259A PIC and a PIT-based TSC calibration. */
#include "internal.h"

#define LAPIC_ID       0x20
#define LAPIC_TPR      0x80
#define LAPIC_EOI      0xB0
#define LAPIC_SVR      0xF0
#define LAPIC_ICR_LOW  0x300
#define LAPIC_ICR_HIGH 0x310
#define ICR_BUSY       (1u << 12)

#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN    0x10
#define IOAPIC_VER    0x01
#define IOAPIC_REDTBL 0x10

static u32 lapic_read(u32 reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}

static void lapic_write(u32 reg, u32 v)
{
	mmio_write32(LAPIC_BASE + reg, v);
}

void lapic_enable(void)
{
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_SVR,
		    0x100 | SPURIOUS_VECTOR); /* bit 8: APIC software enable */
}

u32 lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

void lapic_send_ipi(u32 dest_apic_id, u32 icr_low)
{
	lapic_write(LAPIC_ICR_HIGH, dest_apic_id << 24);
	lapic_write(LAPIC_ICR_LOW, icr_low); /* the low write sends it */
	while (lapic_read(LAPIC_ICR_LOW) & ICR_BUSY)
		cpu_relax();
}

static u32 ioapic_read(u32 reg)
{
	mmio_write32(IOAPIC_BASE + IOAPIC_REGSEL, reg);
	return mmio_read32(IOAPIC_BASE + IOAPIC_WIN);
}

static void ioapic_write(u32 reg, u32 v)
{
	mmio_write32(IOAPIC_BASE + IOAPIC_REGSEL, reg);
	mmio_write32(IOAPIC_BASE + IOAPIC_WIN, v);
}

unsigned ioapic_pins(void)
{
	return ((ioapic_read(IOAPIC_VER) >> 16) & 0xff) + 1;
}

void ioapic_route(unsigned pin, u8 vector, u32 dest_apic_id, bool level,
		  bool active_low)
{
	u32 low = vector | (active_low ? 1u << 13 : 0) |
		  (level ? 1u << 15 : 0); /* fixed, physical */

	ioapic_write(IOAPIC_REDTBL + 2 * pin + 1, dest_apic_id << 24);
	ioapic_write(IOAPIC_REDTBL + 2 * pin, low); /* unmasked last */
}

void ioapic_mask(unsigned pin)
{
	ioapic_write(IOAPIC_REDTBL + 2 * pin, 1u << 16);
}

void pic_disable(void)
{
	/* ICW1-4: cascade, vectors 0x20/0x28 (away from exceptions), 8086 mode
	 */
	outb(0x20, 0x11);
	outb(0xA0, 0x11);
	outb(0x21, 0x20);
	outb(0xA1, 0x28);
	outb(0x21, 0x04);
	outb(0xA1, 0x02);
	outb(0x21, 0x01);
	outb(0xA1, 0x01);
	outb(0x21, 0xff);
	outb(0xA1, 0xff);
}

/* PIT channel 2 in mode 0 counts 10 ms at 1.193182 MHz with its gate high;
 * its output (low from the control word until the count ends, 8254
 * datasheet, mode 0) shows in port 0x61 bit 5.  Returns 0 when the port
 * does not behave like that. */
u64 tsc_calibrate_pit(void)
{
	const u16 count = 11932;

	outb(0x61, (inb(0x61) & ~0x02) | 0x01); /* speaker off, gate on */
	outb(0x43, 0xB0); /* channel 2, lo/hi byte, mode 0 */
	outb(0x42, count & 0xff);
	u64 t0 = rdtsc();
	outb(0x42, count >> 8);
	/* OUT is low once the count is loaded.  (The 8254 also drops it at
	 * the mode-0 control word; KVM's in-kernel PIT only at the load, so
	 * the check is made here, where both agree.) */
	if (inb(0x61) & 0x20)
		return 0;
	while (!(inb(0x61) & 0x20)) {
		if (rdtsc() - t0 > 100000000000ull)
			return 0;
		cpu_relax();
	}
	u64 khz = (rdtsc() - t0) / 10;
	return khz >= 100000 && khz <= 10000000 ? khz : 0;
}

/* The hypervisor timing leaf (0x40000010, EAX = TSC kHz) when offered. */
static u64 tsc_khz_cpuid(void)
{
	u32 r[4];

	cpuid(0x40000000, 0, r);
	if (r[0] < 0x40000010 || r[0] > 0x400000ff)
		return 0;
	cpuid(0x40000010, 0, r);
	return r[0];
}

u64 tsc_khz(void)
{
	static u64 khz;

	if (khz)
		return khz;
	khz = tsc_calibrate_pit();
	if (!khz)
		khz = tsc_khz_cpuid();
	if (!khz) {
		/* timeouts computed from this only get longer on a slower TSC
		 */
		khz = 3000000;
		gprintf("tsc: cannot calibrate (PIT channel 2 output not seen "
			"in port 0x61 bit 5), "
			"assuming 3 GHz\n");
	}
	return khz;
}

void tsc_delay_us(u64 us)
{
	u64 end = rdtsc() + us * tsc_khz() / 1000;

	while (rdtsc() < end)
		cpu_relax();
}

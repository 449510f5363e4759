/* A virtio driver in miniature: finds virtio-rng and virtio-blk by PCI
 * configuration mechanism #1 (and cross-checks ECAM), probes a BAR's size,
 * brings both devices up the way virtio 1.2, 3.1.1 says, and does I/O.
 *
 *  - rng: MSI-X on (vector 0 -> LAPIC vector 0x60); 32 random bytes must
 *    arrive with one MSI-X interrupt.
 *  - hostile=1: a descriptor loop and a buffer outside RAM must each put
 *    the rng in DEVICE_NEEDS_RESET; after a reset it works again.
 *  - blk: INTx through IOAPIC pin 16 + slot % 8 (level) and the ISR.
 *    Prints capacity and serial, the text the host put in sector 0, then
 *    for i in 1..iters writes sector i with a pattern, reads it back and
 *    prints "blk iter i"; pause_ms= between iterations leaves time for a
 *    checkpoint.  At the end every sector 1..iters is read and checked
 *    again, a FLUSH is sent, and the guest exits with PASS. */
#include "guest.h"

#define DEV_BLK 0x1042
#define DEV_RNG 0x1044
#define DEV_CONSOLE 0x1043
#define QSIZE 16
#include "virtio_guest.h"
#define VEC_RNG 0x60
#define VEC_BLK 0x61


struct vdev {
	unsigned slot;
	u64 common, notify, isr, device, msix_table;
	u32 notify_mult;
	u8 msix_cap;
	struct vq q, q1;
};

static struct vdev rng, blk, con;
static volatile u32 rng_irqs, blk_irqs;
static u8 buf[4096] __attribute__((aligned(4096)));

/* ---- PCI ---- */

static bool pci_find(u16 device, struct vdev *d)
{
	for (unsigned s = 0; s < 32; s++) {
		if (pci_r32(s, 0) != (VENDOR_VIRTIO | (u32)device << 16))
			continue;
		/* ECAM: the same function at 0xE0000000 + slot << 15. */
		if (mmio_read32(0xE0000000ull + ((u64)s << 15)) != (VENDOR_VIRTIO | (u32)device << 16))
			guest_fail("ECAM and 0xCF8 disagree about slot %u", s);
		d->slot = s;
		for (u8 p = pci_r8(s, 0x34); p; p = pci_r8(s, p + 1)) {
			u8 id = pci_r8(s, p);
			if (id == 0x11) {
				u32 t = pci_r32(s, p + 4);
				d->msix_cap = p;
				d->msix_table = bar_addr(s, t & 7) + (t & ~7u);
			} else if (id == 0x09) {
				u64 a = bar_addr(s, pci_r8(s, p + 4)) + pci_r32(s, p + 8);
				switch (pci_r8(s, p + 3)) {
				case 1: d->common = a; break;
				case 2: d->notify = a; d->notify_mult = pci_r32(s, p + 16); break;
				case 3: d->isr = a; break;
				case 4: d->device = a; break;
				}
			}
		}
		if (!d->common || !d->notify || !d->isr)
			guest_fail("device %04x: virtio capabilities missing", device);
		return true;
	}
	return false;
}

/* PCI 3.0, 6.2.5.1: all ones in, ~(size - 1) out, with decode off. */
static void bar_size_probe(unsigned s)
{
	u16 cmd = pci_r16(s, 4);
	u32 old = pci_r32(s, 0x10), got;

	pci_w16(s, 4, cmd & ~2);
	pci_w32(s, 0x10, 0xffffffffu);
	got = pci_r32(s, 0x10);
	pci_w32(s, 0x10, old);
	pci_w16(s, 4, cmd);
	if (got != 0xffffc000u || pci_r32(s, 0x10) != old)
		guest_fail("BAR 0 sizing read 0x%x (want 0xffffc000), restored 0x%x", got, pci_r32(s, 0x10));
}

/* ---- virtio ---- */
static void vd_init(struct vdev *d, u16 msix_vector)
{
	u64 c = d->common;

	w8(c + 0x14, 0);
	if (r8(c + 0x14) != 0)
		guest_fail("status did not reset");
	w8(c + 0x14, ST_ACK);
	w8(c + 0x14, ST_ACK | ST_DRIVER);
	w32(c + 0x00, 1);
	if (!(r32(c + 0x04) & 1))
		guest_fail("VERSION_1 not offered");
	w32(c + 0x08, 0);
	w32(c + 0x0c, 0);
	w32(c + 0x08, 1);
	w32(c + 0x0c, 1); /* VERSION_1 */
	w8(c + 0x14, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	if (!(r8(c + 0x14) & ST_FEATURES_OK))
		guest_fail("FEATURES_OK refused");
	for (u16 qi = 0; qi < r16(c + 0x12) && qi < 2; qi++) {
		struct vq *q = qi ? &d->q1 : &d->q;

		w16(c + 0x16, qi);
		if (r16(c + 0x18) < QSIZE)
			guest_fail("queue %u too small", qi);
		w16(c + 0x18, QSIZE);
		memset(q, 0, sizeof(*q));
		w32(c + 0x20, (u32)(u64)&q->desc);
		w32(c + 0x24, 0);
		w32(c + 0x28, (u32)(u64)&q->avail);
		w32(c + 0x2c, 0);
		w32(c + 0x30, (u32)(u64)&q->used);
		w32(c + 0x34, 0);
		w16(c + 0x1a, msix_vector);
		if (r16(c + 0x1a) != msix_vector)
			guest_fail("queue MSI-X vector %u not taken", msix_vector);
		w16(c + 0x1c, 1);
	}
	w16(c + 0x16, 0);
	w8(c + 0x14, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
}

static void vq_kick_q(struct vdev *d, struct vq *q, u16 qi, u16 head)
{
	q->avail.ring[q->avail.idx % QSIZE] = head;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->avail.idx++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	w16(d->common + 0x16, qi);
	w16(d->notify + r16(d->common + 0x1e) * d->notify_mult, qi);
}

static void vq_kick(struct vdev *d, u16 head)
{
	struct vq *q = &d->q;

	q->avail.ring[q->avail.idx % QSIZE] = head;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->avail.idx++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	w16(d->notify + r16(d->common + 0x1e) * d->notify_mult, 0);
}

/* Waits for the next used element (interrupt-driven when irqs != NULL). */
static u32 vq_wait(struct vdev *d, volatile u32 *irqs, u32 irqs_before, const char *what)
{
	struct vq *q = &d->q;
	u64 end = rdtsc() + 5000 * tsc_khz();
	u32 len;

	while (*(volatile u16 *)&q->used.idx == q->last_used) {
		if (rdtsc() > end)
			guest_fail("%s: no completion in 5 s (status 0x%x)", what, r8(d->common + 0x14));
		if (irqs)
			irq_wait();
		else
			cpu_relax();
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	len = q->used.ring[q->last_used % QSIZE].len;
	q->last_used++;
	if (irqs) {
		while (*irqs == irqs_before && rdtsc() < end)
			irq_wait();
		if (*irqs == irqs_before)
			guest_fail("%s: completed without an interrupt", what);
	}
	return len;
}

static void rng_irq(struct irq_frame *f) { (void)f; rng_irqs++; }
static void blk_irq(struct irq_frame *f)
{
	(void)f;
	if (r8(blk.isr) & 1) /* reading clears it and lowers INTx */
		blk_irqs++;
}

static void rng_test(void)
{
	u32 before = rng_irqs, len;
	unsigned nonzero = 0;

	memset(buf, 0, 32);
	rng.q.desc[0] = (struct desc){ (u64)buf, 32, 2, 0 };
	vq_kick(&rng, 0);
	len = vq_wait(&rng, &rng_irqs, before, "virtio-rng");
	for (unsigned i = 0; i < 32; i++)
		nonzero += buf[i] != 0;
	if (len != 32 || nonzero < 16)
		guest_fail("virtio-rng gave %u bytes, %u non-zero", len, nonzero);
	gprintf("virtio-rng: 32 bytes, msi-x interrupts %u\n", rng_irqs);
}

static void rng_expect_needs_reset(const char *what)
{
	u64 end = rdtsc() + 5000 * tsc_khz();

	while (!(r8(rng.common + 0x14) & ST_NEEDS_RESET))
		if (rdtsc() > end)
			guest_fail("%s: device did not report NEEDS_RESET", what);
	gprintf("virtio-rng: %s refused (NEEDS_RESET)\n", what);
	vd_init(&rng, 0);
}

static void rng_hostile(void)
{
	rng.q.desc[0] = (struct desc){ (u64)buf, 8, 1 | 2, 1 };
	rng.q.desc[1] = (struct desc){ (u64)buf + 8, 8, 1 | 2, 0 };
	vq_kick(&rng, 0);
	rng_expect_needs_reset("descriptor loop");
	rng.q.desc[0] = (struct desc){ 0xfff0000000ull, 8, 2, 0 };
	vq_kick(&rng, 0);
	rng_expect_needs_reset("buffer outside RAM");
	rng_test();
}

/* ---- blk ---- */
struct blk_hdr {
	u32 type, reserved;
	u64 sector;
};
static struct blk_hdr hdr;
static volatile u8 status;

static u32 blk_io(u32 type, u64 sector, void *data, u32 len, bool dev_writes)
{
	u32 before = blk_irqs, n;
	unsigned i = 0;

	hdr = (struct blk_hdr){ type, 0, sector };
	status = 0xff;
	blk.q.desc[i] = (struct desc){ (u64)&hdr, sizeof(hdr), 1, (u16)(i + 1) };
	i++;
	if (len) {
		blk.q.desc[i] = (struct desc){ (u64)data, len, (u16)(1 | (dev_writes ? 2 : 0)), (u16)(i + 1) };
		i++;
	}
	blk.q.desc[i] = (struct desc){ (u64)&status, 1, 2, 0 };
	vq_kick(&blk, 0);
	n = vq_wait(&blk, &blk_irqs, before, "virtio-blk");
	if (status != 0)
		guest_fail("virtio-blk request type %u sector %llu: status %u", type, (unsigned long long)sector,
			   status);
	return n;
}

static void pattern(u64 sector, u8 *p)
{
	for (unsigned i = 0; i < 512; i++)
		p[i] = (u8)(sector * 7 + i * 13 + (i >> 5));
}

static void blk_check_sector(u64 s)
{
	static u8 want[512];

	memset(buf, 0, 512);
	blk_io(0, s, buf, 512, true);
	pattern(s, want);
	if (memcmp(buf, want, 512) != 0)
		guest_fail("sector %llu does not hold its pattern", (unsigned long long)s);
}

static void blk_test(unsigned iters, unsigned pause_ms)
{
	char serial[21];
	unsigned pin = 16 + (blk.slot & 7);
	u64 cap;

	ioapic_route(pin, VEC_BLK, lapic_id(), true, false);
	vd_init(&blk, 0xffff);
	cap = r32(blk.device) | (u64)r32(blk.device + 4) << 32;
	memset(serial, 0, sizeof(serial));
	blk_io(8, 0, serial, 20, true);
	gprintf("virtio-blk: capacity %llu sectors, serial %s\n", (unsigned long long)cap, serial);
	if (cap < iters + 2)
		guest_fail("disk too small");
	blk_io(0, 0, buf, 512, true);
	buf[32] = 0;
	gprintf("virtio-blk: sector 0 says '%s'\n", (char *)buf);
	for (unsigned i = 1; i <= iters; i++) {
		pattern(i, buf);
		blk_io(1, i, buf, 512, false);
		blk_check_sector(i);
		gprintf("blk iter %u\n", i);
		if (pause_ms)
			tsc_delay_us(pause_ms * 1000ull);
	}
	for (unsigned i = 1; i <= iters; i++)
		blk_check_sector(i);
	blk_io(4, 0, 0, 0, false);
	gprintf("virtio-blk: %u sectors verified, flushed, intx interrupts %u\n", iters, blk_irqs);
}

/* Polls queue q for its next used element. */
static u32 vq_poll(struct vq *q, const char *what, u64 ms)
{
	u64 end = rdtsc() + ms * tsc_khz();
	u32 len;

	while (*(volatile u16 *)&q->used.idx == q->last_used)
		if (rdtsc() > end)
			guest_fail("%s: nothing in %llu ms", what, (unsigned long long)ms);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	len = q->used.ring[q->last_used % QSIZE].len;
	q->last_used++;
	return len;
}

static void con_write(const char *text)
{
	static char out[128];
	u32 n = (u32)strlen(text);

	memcpy(out, text, n);
	con.q1.desc[0] = (struct desc){ (u64)out, n, 0, 0 };
	vq_kick_q(&con, &con.q1, 1, 0);
	vq_poll(&con.q1, "virtio-console transmit", 5000);
}

/* Output to the host; with con_rx=1 a line from the host comes back. */
static void console_test(void)
{
	static char in[64];
	u32 n;

	vd_init(&con, 0xffff);
	con_write("virtio-console: hello from the guest\n");
	gprintf("virtio-console: sent\n");
	if (!mb_arg_u64("con_rx", 0))
		return;
	memset(in, 0, sizeof(in));
	con.q.desc[0] = (struct desc){ (u64)in, sizeof(in) - 1, 2, 0 };
	vq_kick_q(&con, &con.q, 0, 0);
	gprintf("virtio-console: ready\n");
	n = vq_poll(&con.q, "virtio-console receive", 20000);
	if (n && in[n - 1] == '\n')
		in[n - 1] = 0;
	gprintf("virtio-console: got '%s'\n", in);
	con_write("virtio-console: echo ");
	con_write(in);
	con_write("\n");
}

int guest_main(void)
{
	unsigned iters = (unsigned)mb_arg_u64("iters", 8), pause_ms = (unsigned)mb_arg_u64("pause_ms", 0);

	pic_disable();
	lapic_enable();
	irq_register(VEC_RNG, rng_irq);
	irq_register(VEC_BLK, blk_irq);
	if (!pci_find(DEV_RNG, &rng) || !pci_find(DEV_BLK, &blk))
		guest_fail("virtio-rng and virtio-blk not both found");
	gprintf("pci: virtio-rng at %u:0, virtio-blk at %u:0\n", rng.slot, blk.slot);
	bar_size_probe(rng.slot);
	/* MSI-X on, vector 0 -> this CPU's LAPIC, vector VEC_RNG. */
	pci_w16(rng.slot, rng.msix_cap + 2, 0x8000);
	w32(rng.msix_table + 0, 0xfee00000u | lapic_id() << 12);
	w32(rng.msix_table + 4, 0);
	w32(rng.msix_table + 8, VEC_RNG);
	w32(rng.msix_table + 12, 0);
	vd_init(&rng, 0);
	rng_test();
	if (mb_arg_u64("hostile", 0))
		rng_hostile();
	blk_test(iters, pause_ms);
	if (pci_find(DEV_CONSOLE, &con))
		console_test();
	return GUEST_EXIT_PASS;
}

/* A tiny network stack on virtio-net: finds the device by PCI mechanism
 * #1, negotiates VERSION_1 + MAC + STATUS + MTU, posts eight receive
 * buffers (MSI-X vector 0 -> LAPIC vector 0x62) and then answers, for the
 * address ip= (default 169.254.77.2):
 *  - ARP requests for it (and learns the peer's MAC from any ARP of peer=);
 *  - ICMP echo requests ("icmp echo N");
 *  - UDP to port 7: the payload is echoed back ("udp echo N bytes");
 *  - UDP to port 9 with "quit": exits with PASS.
 * At start it sends an ARP request for the peer; once the peer's MAC is
 * known it sends one UDP datagram "hello from the guest" to peer:5555.
 * hostile=1 first sends a transmit header asking for a checksum offload
 * that was not negotiated: the device must report NEEDS_RESET. */
#include "guest.h"

#define DEV_NET 0x1041
#define QSIZE 16
#include "virtio_guest.h"
#define NR_RXBUF 8
#define BUFSZ 2048
#define HDR 12
#define VEC_NET 0x62
#define F_MTU (1u << 3)
#define F_MAC (1u << 5)
#define F_STATUS (1u << 16)


static struct {
	unsigned slot;
	u64 common, notify, device, msix_table;
	u32 notify_mult;
	u8 msix_cap;
} nd;
static struct vq rxq, txq;
static u8 rxbuf[NR_RXBUF][BUFSZ] __attribute__((aligned(64)));
static u8 txbuf[BUFSZ] __attribute__((aligned(64)));
static u8 mac[6], peer_mac[6];
static u32 my_ip, peer_ip;
static bool peer_known, hello_sent;
static volatile u32 irqs;
static unsigned echoes, udp_echoes;

/* ---- PCI and virtio (virtio 1.2, 4.1 and 3.1.1) ---- */

static bool net_find(void)
{
	for (unsigned s = 0; s < 32; s++) {
		if (pci_r32(s, 0) != (VENDOR_VIRTIO | (u32)DEV_NET << 16))
			continue;
		nd.slot = s;
		for (u8 p = pci_r8(s, 0x34); p; p = pci_r8(s, p + 1)) {
			u8 id = pci_r8(s, p);
			if (id == 0x11) {
				u32 t = pci_r32(s, p + 4);
				nd.msix_cap = p;
				nd.msix_table = bar_addr(s, t & 7) + (t & ~7u);
			} else if (id == 0x09) {
				u64 a = bar_addr(s, pci_r8(s, p + 4)) + pci_r32(s, p + 8);
				switch (pci_r8(s, p + 3)) {
				case 1: nd.common = a; break;
				case 2: nd.notify = a; nd.notify_mult = pci_r32(s, p + 16); break;
				case 4: nd.device = a; break;
				}
			}
		}
		if (!nd.common || !nd.notify || !nd.device || !nd.msix_table)
			guest_fail("virtio-net: capabilities missing");
		return true;
	}
	return false;
}

static void queue_setup(u16 qi, struct vq *q, u16 vector)
{
	u64 c = nd.common;

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
	w16(c + 0x1a, vector);
	w16(c + 0x1c, 1);
}

static void kick(struct vq *q, u16 qi, u16 head)
{
	q->avail.ring[q->avail.idx % QSIZE] = head;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->avail.idx++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	w16(nd.notify + qi * nd.notify_mult, qi); /* queue_notify_off = queue index */
}

static void net_init(void)
{
	u64 c = nd.common;
	u32 want = F_MAC | F_STATUS | F_MTU;

	w8(c + 0x14, 0);
	w8(c + 0x14, ST_ACK);
	w8(c + 0x14, ST_ACK | ST_DRIVER);
	w32(c + 0x00, 0);
	if ((r32(c + 0x04) & want) != want)
		guest_fail("virtio-net: features 0x%x lack MAC/STATUS/MTU", r32(c + 0x04));
	w32(c + 0x08, 0);
	w32(c + 0x0c, want);
	w32(c + 0x08, 1);
	w32(c + 0x0c, 1); /* VERSION_1 */
	w8(c + 0x14, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	if (!(r8(c + 0x14) & ST_FEATURES_OK))
		guest_fail("virtio-net: FEATURES_OK refused");
	queue_setup(0, &rxq, 0);
	queue_setup(1, &txq, 0xffff);
	for (u16 i = 0; i < NR_RXBUF; i++) {
		rxq.desc[i] = (struct desc){ (u64)rxbuf[i], BUFSZ, 2, 0 };
		rxq.avail.ring[i] = i;
	}
	rxq.avail.idx = NR_RXBUF;
	w8(c + 0x14, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
	w16(nd.notify, 0);
	for (unsigned i = 0; i < 6; i++)
		mac[i] = r8(nd.device + i);
}

/* Sends txbuf[0, HDR + len) and waits for the device to take it. */
static void tx_send(u32 len, u8 hdr_flags)
{
	u64 end = rdtsc() + 5000 * tsc_khz();

	memset(txbuf, 0, HDR);
	txbuf[0] = hdr_flags;
	txq.desc[0] = (struct desc){ (u64)txbuf, HDR + len, 0, 0 };
	kick(&txq, 1, 0);
	while (*(volatile u16 *)&txq.used.idx == txq.last_used) {
		if (rdtsc() > end)
			guest_fail("virtio-net: transmit not completed in 5 s (status 0x%x)", r8(nd.common + 0x14));
		cpu_relax();
	}
	txq.last_used++;
}

/* ---- Ethernet, ARP, IPv4, ICMP, UDP ---- */
static u16 be16(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }
static u32 be32(const u8 *p) { return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3]; }
static void put16(u8 *p, u16 v) { p[0] = (u8)(v >> 8); p[1] = (u8)v; }
static void put32(u8 *p, u32 v) { put16(p, (u16)(v >> 16)); put16(p + 2, (u16)v); }

/* RFC 1071 */
static u16 csum(const u8 *p, u32 len, u32 sum)
{
	for (u32 i = 0; i + 1 < len; i += 2)
		sum += be16(p + i);
	if (len & 1)
		sum += (u32)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

static u32 parse_ip(const char *key, u32 fallback)
{
	char b[32];
	u32 ip = 0, part = 0, dots = 0;

	if (!mb_arg(key, b, sizeof(b)))
		return fallback;
	for (const char *p = b;; p++) {
		if (*p >= '0' && *p <= '9') {
			part = part * 10 + (u32)(*p - '0');
		} else if (*p == '.' || !*p) {
			ip = ip << 8 | (part & 0xff);
			part = 0;
			if (!*p)
				break;
			dots++;
		}
	}
	if (dots != 3)
		guest_fail("%s= is not a dotted quad", key);
	return ip;
}

static u8 *eth(u8 *f, const u8 *dst, u16 type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, type);
	return f + 14;
}

static void arp_send(u16 op, const u8 *tha, u32 tpa)
{
	static const u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	u8 *a = eth(txbuf + HDR, op == 1 ? bcast : tha, 0x0806);

	put16(a, 1);
	put16(a + 2, 0x0800);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, mac, 6);
	put32(a + 14, my_ip);
	if (op == 1)
		memset(a + 18, 0, 6);
	else
		memcpy(a + 18, tha, 6);
	put32(a + 24, tpa);
	tx_send(14 + 28, 0);
}

/* An IPv4 header for `plen` payload bytes; returns the payload. */
static u8 *ip_hdr(u8 *ip, u8 proto, u32 dst, u32 plen)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (u16)(20 + plen));
	ip[8] = 64;
	ip[9] = proto;
	put32(ip + 12, my_ip);
	put32(ip + 16, dst);
	put16(ip + 10, csum(ip, 20, 0));
	return ip + 20;
}

static void udp_send(const u8 *dmac, u32 dst, u16 sport, u16 dport, const void *data, u32 len)
{
	u8 *u = ip_hdr(eth(txbuf + HDR, dmac, 0x0800), 17, dst, 8 + len);

	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (u16)(8 + len));
	put16(u + 6, 0); /* no checksum (RFC 768) */
	memcpy(u + 8, data, len);
	tx_send(14 + 20 + 8 + len, 0);
}

static void learn_peer(const u8 *m)
{
	if (!peer_known) {
		memcpy(peer_mac, m, 6);
		peer_known = true;
		gprintf("virtio-net: peer is %02x:%02x:%02x:%02x:%02x:%02x\n", m[0], m[1], m[2], m[3], m[4], m[5]);
	}
	if (!hello_sent) {
		hello_sent = true;
		udp_send(peer_mac, peer_ip, 5555, 5555, "hello from the guest", 20);
		gprintf("virtio-net: sent UDP hello\n");
	}
}

static void on_arp(const u8 *f, u32 len)
{
	const u8 *a = f + 14;

	if (len < 14 + 28 || be16(a) != 1 || be16(a + 2) != 0x0800)
		return;
	if (be32(a + 14) == peer_ip)
		learn_peer(a + 8);
	if (be16(a + 6) == 1 && be32(a + 24) == my_ip)
		arp_send(2, a + 8, be32(a + 14));
}

/* Returns true when told to quit. */
static bool on_ipv4(const u8 *f, u32 len)
{
	const u8 *ip = f + 14, *l4;
	u32 ihl, tot;

	if (len < 14 + 20)
		return false;
	ihl = (ip[0] & 15) * 4u;
	tot = be16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || 14 + tot > len || be32(ip + 16) != my_ip)
		return false;
	l4 = ip + ihl;
	if (ip[9] == 1 && tot - ihl >= 8 && l4[0] == 8) {
		u32 n = tot - ihl;
		u8 *icmp = ip_hdr(eth(txbuf + HDR, f + 6, 0x0800), 1, be32(ip + 12), n);

		memcpy(icmp, l4, n);
		icmp[0] = 0; /* echo reply */
		put16(icmp + 2, 0);
		put16(icmp + 2, csum(icmp, n, 0));
		tx_send(14 + 20 + n, 0);
		gprintf("icmp echo %u\n", ++echoes);
	} else if (ip[9] == 17 && tot - ihl >= 8) {
		u32 ulen = be16(l4 + 4);

		if (ulen < 8 || ulen > tot - ihl)
			return false;
		if (be16(l4 + 2) == 7 && ulen - 8 <= 1400) {
			static u8 data[1400];

			memcpy(data, l4 + 8, ulen - 8);
			udp_send(f + 6, be32(ip + 12), 7, be16(l4), data, ulen - 8);
			gprintf("udp echo %u bytes (%u)\n", ulen - 8, ++udp_echoes);
		} else if (be16(l4 + 2) == 9 && ulen - 8 >= 4 && !memcmp(l4 + 8, "quit", 4)) {
			return true;
		}
	}
	return false;
}

static void net_irq(struct irq_frame *fr) { (void)fr; irqs++; }

static void hostile(void)
{
	u64 end = rdtsc() + 5000 * tsc_khz();

	memset(txbuf + HDR, 0xff, 60);
	txbuf[0] = 1; /* NEEDS_CSUM, never negotiated */
	txq.desc[0] = (struct desc){ (u64)txbuf, HDR + 60, 0, 0 };
	kick(&txq, 1, 0);
	while (!(r8(nd.common + 0x14) & ST_NEEDS_RESET))
		if (rdtsc() > end)
			guest_fail("virtio-net: an offload header did not give NEEDS_RESET");
	gprintf("virtio-net: offload header refused (NEEDS_RESET)\n");
	net_init();
}

int guest_main(void)
{
	u32 frames = 0;

	my_ip = parse_ip("ip", 0xa9fe4d02);
	peer_ip = parse_ip("peer", 0xa9fe4d01);
	pic_disable();
	lapic_enable();
	irq_register(VEC_NET, net_irq);
	if (!net_find())
		guest_fail("no virtio-net device");
	pci_w16(nd.slot, nd.msix_cap + 2, 0x8000); /* MSI-X on */
	w32(nd.msix_table + 0, 0xfee00000u | lapic_id() << 12);
	w32(nd.msix_table + 4, 0);
	w32(nd.msix_table + 8, VEC_NET);
	w32(nd.msix_table + 12, 0);
	net_init();
	gprintf("virtio-net: at %u:0, mac %02x:%02x:%02x:%02x:%02x:%02x, link %u, mtu %u\n", nd.slot, mac[0], mac[1],
		mac[2], mac[3], mac[4], mac[5], r16(nd.device + 6), r16(nd.device + 10));
	if (mb_arg_u64("hostile", 0))
		hostile();
	arp_send(1, 0, peer_ip);
	gprintf("virtio-net: sent ARP request\n");
	for (;;) {
		irq_disable();
		while (*(volatile u16 *)&rxq.used.idx == rxq.last_used)
			irq_wait();
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		while (*(volatile u16 *)&rxq.used.idx != rxq.last_used) {
			u32 id = rxq.used.ring[rxq.last_used % QSIZE].id, len = rxq.used.ring[rxq.last_used % QSIZE].len;
			const u8 *b = rxbuf[id % NR_RXBUF];
			bool quit = false;

			rxq.last_used++;
			if (id >= NR_RXBUF || len < HDR + 14 || len > BUFSZ)
				guest_fail("virtio-net: used element id %u len %u", id, len);
			/* 5.1.6.4: no offload flags, num_buffers = 1 */
			if (b[0] || b[1] || b[10] != 1 || b[11])
				guest_fail("virtio-net: receive header %02x %02x num_buffers %u", b[0], b[1], b[10]);
			frames++;
			if (be16(b + HDR + 12) == 0x0806)
				on_arp(b + HDR, len - HDR);
			else if (be16(b + HDR + 12) == 0x0800)
				quit = on_ipv4(b + HDR, len - HDR);
			kick(&rxq, 0, (u16)id);
			if (quit) {
				gprintf("virtio-net: quit after %u frames, %u echoes, %u udp echoes\n", frames, echoes,
					udp_echoes);
				return GUEST_EXIT_PASS;
			}
		}
	}
}

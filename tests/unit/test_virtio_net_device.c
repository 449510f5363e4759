/* virtio-net end to end on a fake machine (no KVM) and a real tap: the
 * test moves itself into a private network namespace (unshare), makes
 * persistent taps there (they vanish with the namespace when the test
 * exits) and plays the driver through BAR 0 while an AF_PACKET socket is
 * the wire.  Configuration space, feature negotiation, transmit with the
 * header split across descriptors, receive with the header the device
 * builds, oversize frames dropped, hostile chains, quiesce, and the saved
 * state with the tap reattached by name.  Needs root (CAP_SYS_ADMIN and
 * CAP_NET_ADMIN): otherwise each case prints SKIP. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "dev/virtio_net.h"
#include "dev_fake.h"
#include "hyve/pci.h"
#include "hyve/virtio.h"

#define CFG(slot, fn, reg) (0x80000000u | (slot) << 11 | (fn) << 8 | (reg))
#define ETH_TEST 0x88b5 /* IEEE 802 local experimental ethertype */
#define QS 16
#define RXQ 0x10000
#define TXQ 0x20000
#define BUF 0x100000

static struct machine m;
static uint8_t ram[16 << 20] __attribute__((aligned(4096)));
static struct device *dev;
static uint64_t c; /* BAR 0 */
static int psock[2] = { -1, -1 }; /* AF_PACKET on hvut0, hvut1 */
static const uint8_t test_mac[6] = { 0x02, 0, 0, 0, 0, 0x07 };

/* ---- the namespace and its taps ---- */

static int make_tap(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC), s, ret = -1;

	if (fd < 0)
		return -1;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) == 0 && ioctl(fd, TUNSETPERSIST, 1) == 0)
		ret = 0;
	close(fd);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (!ret && s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0)
		close(s);
	return ret;
}

static int packet_socket(const char *name)
{
	struct sockaddr_ll sa = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	sa.sll_ifindex = (int)if_nametoindex(name);
	if (s < 0 || !sa.sll_ifindex || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (s >= 0)
			close(s);
		return -1;
	}
	return s;
}

static const char *netns_setup(void)
{
	int fd;

	if (unshare(CLONE_NEWNET) < 0)
		return "cannot unshare a network namespace (needs root)";
	/* No IPv6 chatter (router solicitations) on the test wire. */
	fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			perror("disable_ipv6");
		close(fd);
	}
	if (make_tap("hvut0") || make_tap("hvut1"))
		return "cannot make a tap in the namespace";
	psock[0] = packet_socket("hvut0");
	psock[1] = packet_socket("hvut1");
	if (psock[0] < 0 || psock[1] < 0)
		return "cannot open an AF_PACKET socket";
	return NULL;
}

/* ---- the driver ---- */

static uint32_t cfg_read(unsigned reg)
{
	pio_write(&m, 0xcf8, CFG(3, 0, reg & 0xfc), 4);
	return (uint32_t)pio_read(&m, 0xcfc, 4);
}

static void put16(uint64_t a, uint16_t v) { memcpy(ram + a, &v, 2); }
static uint16_t get16(uint64_t a)
{
	return __atomic_load_n((uint16_t *)(void *)(ram + a), __ATOMIC_ACQUIRE);
}

static void desc(uint64_t q, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *d = ram + q + 16 * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Makes `head` available on queue `qi` and notifies. */
static void avail(uint64_t q, unsigned qi, uint16_t head)
{
	uint16_t idx = get16(q + 0x1000 + 2);

	put16(q + 0x1000 + 4 + 2 * (idx % QS), head);
	__atomic_store_n((uint16_t *)(void *)(ram + q + 0x1000 + 2), (uint16_t)(idx + 1), __ATOMIC_RELEASE);
	mmio_write(&m, c + 0x3000 + 4 * qi, qi, 2);
}

static uint16_t used_idx(uint64_t q) { return get16(q + 0x2000 + 2); }
static uint32_t used_len(uint64_t q, uint16_t i)
{
	uint32_t v;

	memcpy(&v, ram + q + 0x2000 + 4 + 8 * (i % QS) + 4, 4);
	return v;
}

/* Waits up to `ms` for queue q's used index to reach `want`. */
static bool wait_used(uint64_t q, uint16_t want, unsigned ms)
{
	for (unsigned i = 0; i < ms; i++) {
		if (used_idx(q) == want)
			return true;
		usleep(1000);
	}
	return used_idx(q) == want;
}

static uint8_t status(void) { return (uint8_t)mmio_read(&m, c + 0x14, 1); }

static void queue_setup(unsigned qi, uint64_t q)
{
	memset(ram + q, 0, 0x3000);
	mmio_write(&m, c + 0x16, qi, 2);
	mmio_write(&m, c + 0x18, QS, 2);
	mmio_write(&m, c + 0x20, q, 8);
	mmio_write(&m, c + 0x28, q + 0x1000, 8);
	mmio_write(&m, c + 0x30, q + 0x2000, 8);
	mmio_write(&m, c + 0x1c, 1, 2);
}

/* 3.1.1 with `features` (low word), VERSION_1 always. */
static bool driver_init(uint32_t features)
{
	mmio_write(&m, c + 0x14, 0, 1);
	mmio_write(&m, c + 0x14, 3, 1);
	mmio_write(&m, c + 0x08, 0, 4);
	mmio_write(&m, c + 0x0c, features, 4);
	mmio_write(&m, c + 0x08, 1, 4);
	mmio_write(&m, c + 0x0c, 1, 4);
	mmio_write(&m, c + 0x14, 0xb, 1);
	if (status() != 0xb)
		return false;
	queue_setup(0, RXQ);
	queue_setup(1, TXQ);
	mmio_write(&m, c + 0x14, 0xf, 1);
	return status() == 0xf;
}

static bool setup(const char *conf)
{
	struct hyve_err err = { 0 };

	fake_machine_init(&m, sizeof(ram));
	m.mem.host = ram;
	dev = NULL;
	if (!fake_add(&m, "reset-control", 0) || machine_add_device(&m, "pci-host", 0, NULL, NULL, &err) < 0 ||
	    machine_add_device(&m, "virtio-net", 3 * 8, conf, &dev, &err) < 0) {
		printf("  setup: %s\n", err.msg);
		return false;
	}
	c = cfg_read(0x10) & ~0xfu;
	return true;
}

/* A test frame: broadcast, from 02:..:09, ETH_TEST, `len` bytes. */
static void frame(uint8_t *f, unsigned len, uint8_t seed)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, "\x02\x00\x00\x00\x00\x09", 6);
	f[12] = ETH_TEST >> 8;
	f[13] = ETH_TEST & 0xff;
	for (unsigned i = 14; i < len; i++)
		f[i] = (uint8_t)(seed + i * 7);
}

/* The next ETH_TEST frame the wire saw, or -1 after `ms`. */
static int wire_recv(int s, uint8_t *buf, unsigned size, unsigned ms)
{
	struct pollfd p = { .fd = s, .events = POLLIN };

	for (unsigned waited = 0; waited < ms; waited += 10) {
		if (poll(&p, 1, 10) == 1) {
			ssize_t n = recv(s, buf, size, 0);

			if (n >= 14 && buf[12] == (ETH_TEST >> 8) && buf[13] == (ETH_TEST & 0xff))
				return (int)n;
		}
	}
	return -1;
}

static void wire_drain(int s)
{
	uint8_t b[2048];

	while (recv(s, b, sizeof(b), MSG_DONTWAIT) > 0)
		;
}

/* ---- the cases ---- */

static void test_net_config_and_features(void)
{
	if (!setup("3:0,virtio-net,tap=hvut0,mac=02:00:00:00:00:07")) {
		CHECK(0);
		return;
	}
	CHECK_EQ(cfg_read(0) , 0x10411af4); /* 0x1040 + 1: network */
	CHECK_EQ(cfg_read(8) >> 8, 0x020000); /* Ethernet controller */
	for (unsigned i = 0; i < 6; i++)
		CHECK_EQ(mmio_read(&m, c + 0x2000 + i, 1), test_mac[i]);
	CHECK_EQ(mmio_read(&m, c + 0x2006, 2), VIRTIO_NET_S_LINK_UP);
	CHECK_EQ(mmio_read(&m, c + 0x200a, 2), 1500);
	CHECK_EQ(mmio_read(&m, c + 0x200c, 4), 0); /* past the config: zero */
	mmio_write(&m, c + 0x2000, 0x55, 1);       /* read-only */
	CHECK_EQ(mmio_read(&m, c + 0x2000, 1), 0x02);
	mmio_write(&m, c + 0x00, 0, 4);
	CHECK_EQ(mmio_read(&m, c + 0x04, 4), VIRTIO_NET_FEATURES);
	mmio_write(&m, c + 0x00, 1, 4);
	CHECK_EQ(mmio_read(&m, c + 0x04, 4), 1);
	CHECK_EQ(mmio_read(&m, c + 0x12, 2), 2); /* receiveq1, transmitq1 */
	/* CSUM (bit 0) and MRG_RXBUF (bit 15) were not offered. */
	CHECK(!driver_init(1));
	CHECK(!driver_init(1u << 15));
	CHECK(driver_init((uint32_t)VIRTIO_NET_FEATURES));
	fake_machine_destroy(&m);
}

static void test_net_tx_strips_split_header(void)
{
	uint8_t f[100], got[2048];
	int n;

	if (!setup("3:0,virtio-net,tap=hvut0") || !driver_init((uint32_t)VIRTIO_NET_FEATURES)) {
		CHECK(0);
		return;
	}
	wire_drain(psock[0]);
	frame(f, sizeof(f), 1);
	/* Header in two pieces, the second sharing a buffer with the frame. */
	memset(ram + BUF, 0, 8);
	memset(ram + BUF + 0x100, 0, 4);
	memcpy(ram + BUF + 0x104, f, 40);
	memcpy(ram + BUF + 0x200, f + 40, 60);
	desc(TXQ, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(TXQ, 1, BUF + 0x100, 44, VIRTQ_DESC_F_NEXT, 2);
	desc(TXQ, 2, BUF + 0x200, 60, 0, 0);
	avail(TXQ, 1, 0);
	CHECK(wait_used(TXQ, 1, 2000));
	CHECK_EQ(used_len(TXQ, 0), 0);
	n = wire_recv(psock[0], got, sizeof(got), 2000);
	CHECK_EQ(n, sizeof(f));
	CHECK(n == sizeof(f) && memcmp(got, f, sizeof(f)) == 0);
	/* A frame shorter than an Ethernet header is dropped, not sent. */
	desc(TXQ, 0, BUF, 12 + 10, 0, 0);
	avail(TXQ, 1, 0);
	CHECK(wait_used(TXQ, 2, 2000));
	CHECK_EQ(wire_recv(psock[0], got, sizeof(got), 200), -1);
	CHECK(!(status() & VIRTIO_STATUS_NEEDS_RESET));
	fake_machine_destroy(&m);
}

static void test_net_rx_builds_header_drops_oversize(void)
{
	uint8_t big[300], small[60], hdr[VIRTIO_NET_HDR_LEN];

	if (!setup("3:0,virtio-net,tap=hvut0") || !driver_init((uint32_t)VIRTIO_NET_FEATURES)) {
		CHECK(0);
		return;
	}
	/* One buffer of 12 + 100 bytes: a 300-byte frame does not fit. */
	memset(ram + BUF, 0xee, 0x1000);
	desc(RXQ, 0, BUF, 112, VIRTQ_DESC_F_WRITE, 0);
	avail(RXQ, 0, 0);
	frame(big, sizeof(big), 3);
	frame(small, sizeof(small), 4);
	CHECK_EQ(send(psock[0], big, sizeof(big), 0), sizeof(big));
	usleep(200000);
	CHECK_EQ(used_idx(RXQ), 0);
	CHECK_EQ(send(psock[0], small, sizeof(small), 0), sizeof(small));
	CHECK(wait_used(RXQ, 1, 2000));
	CHECK_EQ(used_len(RXQ, 0), VIRTIO_NET_HDR_LEN + sizeof(small));
	virtio_net_rx_hdr(hdr);
	CHECK(memcmp(ram + BUF, hdr, sizeof(hdr)) == 0);
	CHECK(memcmp(ram + BUF + VIRTIO_NET_HDR_LEN, small, sizeof(small)) == 0);
	CHECK_EQ(ram[BUF + VIRTIO_NET_HDR_LEN + sizeof(small)], 0xee); /* nothing past it */
	/* With no buffer posted, a frame waits in the tap for the next one. */
	CHECK_EQ(send(psock[0], small, sizeof(small), 0), sizeof(small));
	usleep(100000);
	CHECK_EQ(used_idx(RXQ), 1);
	desc(RXQ, 1, BUF + 0x800, 0x800, VIRTQ_DESC_F_WRITE, 0);
	avail(RXQ, 0, 1);
	CHECK(wait_used(RXQ, 2, 2000));
	CHECK(memcmp(ram + BUF + 0x800 + VIRTIO_NET_HDR_LEN, small, sizeof(small)) == 0);
	fake_machine_destroy(&m);
}

static void expect_needs_reset(const char *what)
{
	for (unsigned i = 0; i < 2000 && !(status() & VIRTIO_STATUS_NEEDS_RESET); i++)
		usleep(1000);
	if (!(status() & VIRTIO_STATUS_NEEDS_RESET)) {
		printf("  %s: no NEEDS_RESET\n", what);
		CHECK(0);
	}
	CHECK(driver_init((uint32_t)VIRTIO_NET_FEATURES));
}

static void test_net_hostile_chains_need_reset(void)
{
	if (!setup("3:0,virtio-net,tap=hvut0") || !driver_init((uint32_t)VIRTIO_NET_FEATURES)) {
		CHECK(0);
		return;
	}
	/* NEEDS_CSUM without VIRTIO_NET_F_CSUM */
	memset(ram + BUF, 0, 12);
	ram[BUF] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	desc(TXQ, 0, BUF, 80, 0, 0);
	avail(TXQ, 1, 0);
	expect_needs_reset("NEEDS_CSUM");
	/* a GSO type */
	ram[BUF] = 0;
	ram[BUF + 1] = 3;
	desc(TXQ, 0, BUF, 80, 0, 0);
	avail(TXQ, 1, 0);
	expect_needs_reset("GSO");
	/* transmit shorter than its header */
	desc(TXQ, 0, BUF, 8, 0, 0);
	avail(TXQ, 1, 0);
	expect_needs_reset("short header");
	/* a device-writable buffer in a transmit chain */
	ram[BUF + 1] = 0;
	desc(TXQ, 0, BUF, 80, VIRTQ_DESC_F_NEXT, 1);
	desc(TXQ, 1, BUF + 0x100, 80, VIRTQ_DESC_F_WRITE, 0);
	avail(TXQ, 1, 0);
	expect_needs_reset("writable transmit buffer");
	/* a receive buffer the device may not write */
	desc(RXQ, 0, BUF, 2048, 0, 0);
	avail(RXQ, 0, 0);
	expect_needs_reset("read-only receive buffer");
	/* a receive buffer outside RAM (the walker) */
	desc(RXQ, 0, 0xfff00000ull, 2048, VIRTQ_DESC_F_WRITE, 0);
	avail(RXQ, 0, 0);
	expect_needs_reset("receive buffer outside RAM");
	fake_machine_destroy(&m);
}

static void test_net_state_quiesce_and_reattach(void)
{
	struct hyve_err err = { 0 };
	static uint8_t st[8192];
	uint8_t f[64], *mac_field;
	const struct state_desc *sd;
	size_t mac_off = 0, tap_off = 0, link_off = 0;

	if (!setup("3:0,virtio-net,tap=hvut0,mac=02:00:00:00:00:07") ||
	    !driver_init((uint32_t)VIRTIO_NET_FEATURES)) {
		CHECK(0);
		return;
	}
	sd = dev->type->state;
	CHECK(sd->size <= sizeof(st));
	for (const struct state_field *fl = sd->fields; fl->name; fl++) {
		if (!strcmp(fl->name, "mac"))
			mac_off = fl->offset;
		else if (!strcmp(fl->name, "tap"))
			tap_off = fl->offset;
		else if (!strcmp(fl->name, "link_status"))
			link_off = fl->offset;
	}
	CHECK(!strcmp(sd->fields[0].name, "pci") && !strcmp(sd->fields[1].name, "virtio"));
	CHECK(mac_off && tap_off && link_off);
	if (!mac_off || !tap_off || !link_off)
		return;
	/* Quiesced: a frame from the wire is not taken until resume. */
	desc(RXQ, 0, BUF, 2048, VIRTQ_DESC_F_WRITE, 0);
	avail(RXQ, 0, 0);
	CHECK_EQ(dev->type->quiesce(dev, &err), 0);
	frame(f, sizeof(f), 5);
	CHECK_EQ(send(psock[0], f, sizeof(f), 0), sizeof(f));
	usleep(150000);
	CHECK_EQ(used_idx(RXQ), 0);
	memset(st, 0, sizeof(st));
	CHECK_EQ(dev->type->save(dev, st, &err), 0);
	dev->type->resume(dev);
	CHECK(wait_used(RXQ, 1, 2000));
	mac_field = st + mac_off;
	CHECK(memcmp(mac_field, test_mac, 6) == 0);
	CHECK(!strcmp((char *)st + tap_off, "hvut0"));
	CHECK_EQ(st[link_off], VIRTIO_NET_S_LINK_UP);
	CHECK_EQ(dev->type->check(st, &err), 0);
	/* Impossible states are refused. */
	mac_field[0] |= 1;
	CHECK(dev->type->check(st, &err) < 0);
	mac_field[0] &= (uint8_t)~1;
	st[link_off] = 0x80;
	CHECK(dev->type->check(st, &err) < 0);
	st[link_off] = VIRTIO_NET_S_LINK_UP;
	st[tap_off] = 0;
	CHECK(dev->type->check(st, &err) < 0);
	/* A state naming another tap: load, then post_load attaches it by
	 * name; the saved queues continue (the RX buffer is still there). */
	strcpy((char *)st + tap_off, "hvut1");
	mac_field[5] = 0x42;
	CHECK_EQ(dev->type->check(st, &err), 0);
	put16(RXQ + 0x2000 + 2, 0); /* the RAM of the snapshot: nothing used yet */
	CHECK_EQ(dev->type->load(dev, st, &err), 0);
	CHECK_EQ(dev->type->post_load(dev, &err), 0);
	CHECK_EQ(mmio_read(&m, c + 0x2005, 1), 0x42);
	CHECK_EQ(status(), 0xf);
	/* The kernel activates a tap's queueing a moment after its carrier
	 * comes up (linkwatch): until then a sent frame may be dropped. */
	frame(f, sizeof(f), 6);
	for (unsigned i = 0; i < 30 && used_idx(RXQ) != 1; i++) {
		CHECK_EQ(send(psock[1], f, sizeof(f), 0), sizeof(f));
		wait_used(RXQ, 1, 100);
	}
	CHECK_EQ(used_idx(RXQ), 1);
	CHECK(memcmp(ram + BUF + VIRTIO_NET_HDR_LEN, f, sizeof(f)) == 0);
	/* A tap that is gone: post_load fails with its name. */
	strcpy((char *)st + tap_off, "hvgone");
	CHECK_EQ(dev->type->load(dev, st, &err), 0);
	err_clear(&err);
	CHECK(dev->type->post_load(dev, &err) < 0);
	CHECK(strstr(err.msg, "tap hvgone does not exist") != NULL);
	fake_machine_destroy(&m);
}

static void test_net_create_refusals(void)
{
	struct hyve_err err = { 0 };

	fake_machine_init(&m, sizeof(ram));
	m.mem.host = ram;
	CHECK(fake_add(&m, "reset-control", 0) != NULL);
	CHECK_EQ(machine_add_device(&m, "pci-host", 0, NULL, NULL, &err), 0);
	CHECK(machine_add_device(&m, "virtio-net", 24, "3:0,virtio-net,tap=nope0", NULL, &err) < 0);
	CHECK(strstr(err.msg, "tap nope0 does not exist") != NULL);
	err_clear(&err);
	CHECK(machine_add_device(&m, "virtio-net", 24, "3:0,virtio-net,tap=lo", NULL, &err) < 0);
	CHECK(strstr(err.msg, "not a tap device") != NULL);
	err_clear(&err);
	CHECK(machine_add_device(&m, "virtio-net", 24, "3:0,virtio-net", NULL, &err) < 0);
	CHECK(strstr(err.msg, "needs a tap") != NULL);
	fake_machine_destroy(&m);
}

int main(void)
{
	const char *why = netns_setup();

	if (why) {
		SKIP_TEST(test_net_config_and_features, why);
		SKIP_TEST(test_net_tx_strips_split_header, why);
		SKIP_TEST(test_net_rx_builds_header_drops_oversize, why);
		SKIP_TEST(test_net_hostile_chains_need_reset, why);
		SKIP_TEST(test_net_state_quiesce_and_reattach, why);
		SKIP_TEST(test_net_create_refusals, why);
		return 0;
	}
	RUN_TEST(test_net_config_and_features);
	RUN_TEST(test_net_tx_strips_split_header);
	RUN_TEST(test_net_rx_builds_header_drops_oversize);
	RUN_TEST(test_net_hostile_chains_need_reset);
	RUN_TEST(test_net_state_quiesce_and_reattach);
	RUN_TEST(test_net_create_refusals);
	return CHECK_DONE();
}

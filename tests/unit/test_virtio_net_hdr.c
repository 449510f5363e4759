/* virtio-net's host-independent pieces (src/dev/virtio_net.c): option
 * parsing, the default MAC, the configuration bytes (virtio 1.2, 5.1.4)
 * and the virtio_net_hdr checks on transmit and receive (5.1.6). */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "dev/virtio_net.h"

static void test_net_opts_accepted(void)
{
	struct virtio_net_opts o;
	struct hyve_err err = { 0 };
	static const uint8_t want[6] = { 0x02, 0xab, 0xCD, 0x00, 0x10, 0xff };

	CHECK_EQ(virtio_net_parse_opts("tap=hvtap0", &o, &err), 0);
	CHECK(strcmp(o.tap, "hvtap0") == 0);
	CHECK(!o.has_mac);
	CHECK_EQ(virtio_net_parse_opts("mac=02:AB:cd:00:10:ff,tap=t", &o, &err), 0);
	CHECK(strcmp(o.tap, "t") == 0);
	CHECK(o.has_mac);
	CHECK(memcmp(o.mac, want, 6) == 0);
	/* 15 characters is the longest interface name (IFNAMSIZ - 1). */
	CHECK_EQ(virtio_net_parse_opts("tap=abcdefghijklmno", &o, &err), 0);
}

static void test_net_opts_refused(void)
{
	static const struct {
		const char *opts, *msg;
	} bad[] = {
		{ "", "needs a tap" },
		{ "mac=02:00:00:00:00:01", "needs a tap" },
		{ "tap=", "not an interface name" },
		{ "tap=abcdefghijklmnop", "not an interface name" },
		{ "tap=a/b", "not an interface name" },
		{ "tap=t,mac=01:00:00:00:00:01", "multicast" },
		{ "tap=t,mac=00:00:00:00:00:00", "all zeroes" },
		{ "tap=t,mac=02:00:00:00:00", "six hex pairs" },
		{ "tap=t,mac=02:00:00:00:00:01:02", "six hex pairs" },
		{ "tap=t,mac=02-00-00-00-00-01", "six hex pairs" },
		{ "tap=t,mac=0g:00:00:00:00:01", "six hex pairs" },
		{ "tap=t,mac=2:00:00:00:00:01", "six hex pairs" },
		{ "tap=t,queues=2", "unknown option 'queues=2'" },
	};
	char longopt[400];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct virtio_net_opts o;
		struct hyve_err err = { 0 };

		CHECK(virtio_net_parse_opts(bad[i].opts, &o, &err) < 0);
		if (!strstr(err.msg, bad[i].msg)) {
			printf("  '%s' gave '%s'\n", bad[i].opts, err.msg);
			CHECK(0);
		}
	}
	memset(longopt, 'a', sizeof(longopt) - 1);
	longopt[sizeof(longopt) - 1] = 0;
	{
		struct virtio_net_opts o;
		struct hyve_err err = { 0 };

		CHECK(virtio_net_parse_opts(longopt, &o, &err) < 0);
	}
}

static void test_net_default_mac_is_stable_local_unicast(void)
{
	uint8_t a[6], b[6], c[6], d[6];

	virtio_net_default_mac("hvtap0", 3, 0, a);
	virtio_net_default_mac("hvtap0", 3, 0, b);
	virtio_net_default_mac("hvtap1", 3, 0, c);
	virtio_net_default_mac("hvtap0", 4, 0, d);
	CHECK(memcmp(a, b, 6) == 0);
	CHECK(memcmp(a, c, 6) != 0);
	CHECK(memcmp(a, d, 6) != 0);
	CHECK_EQ(a[0] & 3, 2); /* locally administered, not multicast */
}

static void test_net_config_layout(void)
{
	static const uint8_t mac[6] = { 2, 1, 2, 3, 4, 5 };
	uint8_t cfg[VIRTIO_NET_CONFIG_SIZE];

	virtio_net_config(mac, VIRTIO_NET_S_LINK_UP, cfg);
	CHECK(memcmp(cfg, mac, 6) == 0);
	CHECK_EQ(cfg[6] | cfg[7] << 8, 1);  /* status: link up */
	CHECK_EQ(cfg[8] | cfg[9] << 8, 1);  /* max_virtqueue_pairs */
	CHECK_EQ(cfg[10] | cfg[11] << 8, 1500); /* mtu, little-endian */
	virtio_net_config(mac, 0, cfg);
	CHECK_EQ(cfg[6] | cfg[7] << 8, 0);
}

static void test_net_headers(void)
{
	uint8_t h[VIRTIO_NET_HDR_LEN] = { 0 };
	const char *why = NULL;

	CHECK_EQ(virtio_net_tx_hdr_check(h, &why), 0);
	/* DATA_VALID (2) is a receive-side flag; harmless on transmit. */
	h[0] = 2;
	CHECK_EQ(virtio_net_tx_hdr_check(h, &why), 0);
	h[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	CHECK(virtio_net_tx_hdr_check(h, &why) < 0);
	CHECK(why && strstr(why, "checksum"));
	h[0] = 0;
	h[1] = 1; /* GSO_TCPV4 */
	CHECK(virtio_net_tx_hdr_check(h, &why) < 0);
	CHECK(why && strstr(why, "segmentation"));
	memset(h, 0xee, sizeof(h));
	virtio_net_rx_hdr(h);
	for (unsigned i = 0; i < VIRTIO_NET_HDR_LEN; i++)
		CHECK_EQ(h[i], i == 10 ? 1 : 0);
}

int main(void)
{
	RUN_TEST(test_net_opts_accepted);
	RUN_TEST(test_net_opts_refused);
	RUN_TEST(test_net_default_mac_is_stable_local_unicast);
	RUN_TEST(test_net_config_layout);
	RUN_TEST(test_net_headers);
	return CHECK_DONE();
}

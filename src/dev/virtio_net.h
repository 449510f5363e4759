/* virtio-net's host-independent pieces (src/dev/virtio_net.c), exposed for
 * the unit tests: option parsing, the configuration layout and the
 * virtio_net_hdr (virtio 1.2, 5.1.6) checks. */
#ifndef HYVE_DEV_VIRTIO_NET_H
#define HYVE_DEV_VIRTIO_NET_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "hyve/err.h"

/* 5.1.3 feature bits offered: no offloads, no control queue. */
#define VIRTIO_NET_F_MTU (1ULL << 3)
#define VIRTIO_NET_F_MAC (1ULL << 5)
#define VIRTIO_NET_F_STATUS (1ULL << 16)
#define VIRTIO_NET_FEATURES (VIRTIO_NET_F_MTU | VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS)

#define VIRTIO_NET_S_LINK_UP 1
#define VIRTIO_NET_S_ANNOUNCE 2
#define VIRTIO_NET_MTU 1500
/* 5.1.4: mac[6], status, max_virtqueue_pairs, mtu (all little-endian). */
#define VIRTIO_NET_CONFIG_SIZE 12
/* 5.1.6: with VERSION_1 the header always has num_buffers: 12 bytes. */
#define VIRTIO_NET_HDR_LEN 12
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_ETH_MIN 14     /* a frame has at least its Ethernet header */
#define VIRTIO_NET_FRAME_MAX 65536 /* largest frame passed either way */

struct virtio_net_opts {
	char tap[IFNAMSIZ];
	uint8_t mac[6];
	bool has_mac;
};

/* "tap=NAME[,mac=xx:xx:xx:xx:xx:xx]" (options in any order). */
int virtio_net_parse_opts(const char *opts, struct virtio_net_opts *o, struct hyve_err *err);
/* A locally administered unicast MAC derived from the tap name and the
 * PCI location, so the same -s string gives the same address. */
void virtio_net_default_mac(const char *tap, unsigned slot, unsigned func, uint8_t mac[6]);
/* The device configuration bytes. */
void virtio_net_config(const uint8_t mac[6], uint16_t status, uint8_t cfg[VIRTIO_NET_CONFIG_SIZE]);
/* A transmit header as the driver wrote it: 0, or -EINVAL with *why set
 * when it asks for an offload that was not negotiated. */
int virtio_net_tx_hdr_check(const uint8_t hdr[VIRTIO_NET_HDR_LEN], const char **why);
/* The header in front of every received frame: no offload information,
 * num_buffers = 1 (5.1.6.4: MRG_RXBUF is not offered). */
void virtio_net_rx_hdr(uint8_t hdr[VIRTIO_NET_HDR_LEN]);

#endif

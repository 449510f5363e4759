/* virtio-net (virtio 1.2, 5.1) on a Linux tap device:
 *   -s SLOT,virtio-net,tap=NAME[,mac=xx:xx:xx:xx:xx:xx]
 *
 * The tap must exist (`ip tuntap add dev NAME mode tap`): hyve attaches to
 * it and never creates one, so a restore finds the same interface by name.
 * It is opened without IFF_VNET_HDR, so no offload is offered and the
 * 12-byte virtio_net_hdr is stripped on transmit and built on receive.
 * Queue 0 is receiveq1, queue 1 transmitq1; no control queue, no
 * multiqueue.  Both run on the device's worker thread: transmit on a
 * queue kick, receive when the tap is readable, and the tap is polled only
 * while the driver has posted receive buffers (frames wait in the tap's
 * own queue until then).  Before a snapshot no new frame is taken from the
 * tap and every transmit the driver made available is written out. */
#include <assert.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "dev/virtio_net.h"
#include "hyve/device.h"
#include "hyve/machine.h"
#include "hyve/virtio.h"

#define VIRTIO_ID_NET 1
#define NET_RX 0
#define NET_TX 1
#define NET_QUEUE_MAX 256
/* Frames taken per worker pass; a readable tap brings the worker back. */
#define NET_RX_BATCH 64

struct virtio_net {
	int fd;
	char tap[IFNAMSIZ];
	uint8_t mac[6];
	uint16_t link_status;
	uint64_t rx_dropped, tx_dropped;
	uint8_t frame[VIRTIO_NET_FRAME_MAX];
};

/* ---- options, configuration and headers ---- */

static int net_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int net_parse_mac(const char *s, uint8_t mac[6], struct hyve_err *err)
{
	for (unsigned i = 0; i < 6; i++) {
		int hi = net_hex(s[3 * i]), lo = hi < 0 ? -1 : net_hex(s[3 * i + 1]);
		char sep = lo < 0 ? 'x' : s[3 * i + 2];

		if (lo < 0 || sep != (i == 5 ? '\0' : ':'))
			return err_set(err, EINVAL, "mac=%s: expected six hex pairs, xx:xx:xx:xx:xx:xx", s);
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	/* IEEE 802-2014, 8.2: bit 0 of the first octet is group (multicast). */
	if (mac[0] & 1)
		return err_set(err, EINVAL, "mac=%s is a multicast address", s);
	if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]))
		return err_set(err, EINVAL, "mac=%s is all zeroes", s);
	return 0;
}

int virtio_net_parse_opts(const char *opts, struct virtio_net_opts *o, struct hyve_err *err)
{
	char buf[256], *save = NULL, *tok;

	memset(o, 0, sizeof(*o));
	if (strlen(opts) >= sizeof(buf))
		return err_set(err, EINVAL, "virtio-net options are too long");
	strcpy(buf, opts);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (strncmp(tok, "tap=", 4) == 0) {
			const char *name = tok + 4;

			if (!name[0] || strlen(name) >= IFNAMSIZ || strchr(name, '/') || strchr(name, ' '))
				return err_set(err, EINVAL, "tap=%s: not an interface name (1-%d characters)", name,
					       IFNAMSIZ - 1);
			strcpy(o->tap, name);
		} else if (strncmp(tok, "mac=", 4) == 0) {
			int ret = net_parse_mac(tok + 4, o->mac, err);

			if (ret)
				return ret;
			o->has_mac = true;
		} else {
			return err_set(err, EINVAL, "virtio-net: unknown option '%s' (tap=NAME[,mac=MAC])", tok);
		}
	}
	if (!o->tap[0])
		return err_set(err, EINVAL, "virtio-net needs a tap: virtio-net,tap=NAME[,mac=xx:xx:xx:xx:xx:xx]");
	return 0;
}

void virtio_net_default_mac(const char *tap, unsigned slot, unsigned func, uint8_t mac[6])
{
	uint32_t hash = 2166136261u; /* FNV-1a */

	for (const char *p = tap; *p; p++)
		hash = (hash ^ (uint8_t)*p) * 16777619u;
	hash = (hash ^ (slot * 8 + func)) * 16777619u;
	mac[0] = 0x02; /* locally administered, unicast */
	mac[1] = 0x68; /* 'h' */
	for (unsigned i = 0; i < 4; i++)
		mac[2 + i] = (uint8_t)(hash >> (8 * i));
}

void virtio_net_config(const uint8_t mac[6], uint16_t status, uint8_t cfg[VIRTIO_NET_CONFIG_SIZE])
{
	memcpy(cfg, mac, 6);
	cfg[6] = (uint8_t)status;
	cfg[7] = (uint8_t)(status >> 8);
	cfg[8] = 1; /* max_virtqueue_pairs (only meaningful with MQ) */
	cfg[9] = 0;
	cfg[10] = VIRTIO_NET_MTU & 0xff;
	cfg[11] = VIRTIO_NET_MTU >> 8;
}

int virtio_net_tx_hdr_check(const uint8_t hdr[VIRTIO_NET_HDR_LEN], const char **why)
{
	/* 5.1.6.2.1: NEEDS_CSUM only with VIRTIO_NET_F_CSUM, a GSO type only
	 * with a negotiated TSO/UFO feature; none is offered. */
	if (hdr[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		*why = "transmit header asks for a checksum offload that was not negotiated";
		return -EINVAL;
	}
	if (hdr[1] != VIRTIO_NET_HDR_GSO_NONE) {
		*why = "transmit header asks for segmentation offload that was not negotiated";
		return -EINVAL;
	}
	return 0;
}

void virtio_net_rx_hdr(uint8_t hdr[VIRTIO_NET_HDR_LEN])
{
	memset(hdr, 0, VIRTIO_NET_HDR_LEN);
	hdr[10] = 1; /* num_buffers, little-endian */
}

static bool net_running(const struct virtio_dev *vd)
{
	return (vd->s.status & VIRTIO_STATUS_DRIVER_OK) && !(vd->s.status & VIRTIO_STATUS_NEEDS_RESET);
}

static void virtio_net_config_read(struct virtio_dev *vd, unsigned off, uint8_t *data, unsigned len)
{
	struct virtio_net *n = vd->priv;
	uint8_t cfg[VIRTIO_NET_CONFIG_SIZE];

	virtio_net_config(n->mac, n->link_status, cfg);
	/* A driver starting over after a reset reads the MAC: the tap is not
	 * watched before it is running again (see virtio_net_arm). */
	if (!net_running(vd))
		vd->poll_fd_armed = false;
	if (off < sizeof(cfg))
		memcpy(data, cfg + off, len > sizeof(cfg) - off ? sizeof(cfg) - off : len);
}

/* ---- the queues (worker thread, vd->lock held) ---- */

/* Wait on the tap only while its frames have somewhere to go. */
static void virtio_net_arm(struct virtio_dev *vd)
{
	const struct virtq_state *q = &vd->s.queues[NET_RX];

	vd->poll_fd_armed = net_running(vd) && q->enabled && virtq_has_avail(&vd->m->mem, q);
}

static void virtio_net_fail(struct virtio_dev *vd, const char *why)
{
	virtio_needs_reset(vd, why);
	vd->poll_fd_armed = false;
}

static void virtio_net_tx(struct virtio_dev *vd, struct virtio_net *n)
{
	struct virtq_req *req = &vd->req;
	uint8_t hdr[VIRTIO_NET_HDR_LEN];
	bool done = false;
	const char *why;

	while (virtio_queue_pop(vd, NET_TX, req) > 0) {
		uint64_t len;

		if (req->out_len < VIRTIO_NET_HDR_LEN || req->nr_in) {
			virtio_net_fail(vd, "transmit chain is not a header and a frame, all device-readable");
			return;
		}
		len = req->out_len - VIRTIO_NET_HDR_LEN;
		virtq_req_read(req, 0, hdr, sizeof(hdr));
		if (virtio_net_tx_hdr_check(hdr, &why)) {
			virtio_net_fail(vd, why);
			return;
		}
		if (len < VIRTIO_NET_ETH_MIN || len > sizeof(n->frame) || n->fd < 0) {
			n->tx_dropped++;
		} else {
			ssize_t w;

			virtq_req_read(req, VIRTIO_NET_HDR_LEN, n->frame, len);
			do
				w = write(n->fd, n->frame, len);
			while (w < 0 && errno == EINTR);
			/* A full or downed tap drops the frame, as a wire would. */
			if (w != (ssize_t)len)
				n->tx_dropped++;
		}
		virtio_queue_push(vd, NET_TX, req->head, 0);
		done = true;
	}
	if (done)
		virtio_queue_interrupt(vd, NET_TX);
}

static void virtio_net_rx(struct virtio_dev *vd, struct virtio_net *n)
{
	struct virtq_req *req = &vd->req;
	uint8_t hdr[VIRTIO_NET_HDR_LEN];
	unsigned taken = 0;

	/* While a snapshot is being taken no new frame is accepted: it stays
	 * in the tap for after the checkpoint. */
	for (unsigned i = 0; i < NET_RX_BATCH && !vd->pause_req && n->fd >= 0; i++) {
		ssize_t got;

		if (virtio_queue_pop(vd, NET_RX, req) <= 0)
			break;

		if (req->nr_out || req->in_len < VIRTIO_NET_HDR_LEN) {
			virtio_net_fail(vd, "receive buffer is not device-writable or smaller than the header");
			return;
		}
		do
			got = read(n->fd, n->frame, sizeof(n->frame));
		while (got < 0 && errno == EINTR);
		if (got <= 0) {
			/* Nothing to read now: the buffer stays the driver's. */
			virtq_unpop(&vd->s.queues[NET_RX]);
			break;
		}
		if ((uint64_t)got > req->in_len - VIRTIO_NET_HDR_LEN) {
			/* Larger than the buffer: dropped, the buffer kept. */
			virtq_unpop(&vd->s.queues[NET_RX]);
			n->rx_dropped++;
			continue;
		}
		virtio_net_rx_hdr(hdr);
		virtq_req_write(req, 0, hdr, sizeof(hdr));
		virtq_req_write(req, VIRTIO_NET_HDR_LEN, n->frame, (uint64_t)got);
		virtio_queue_push(vd, NET_RX, req->head, (uint32_t)(VIRTIO_NET_HDR_LEN + got));
		taken++;
	}
	if (taken)
		virtio_queue_interrupt(vd, NET_RX);
}

static void virtio_net_queue(struct virtio_dev *vd, unsigned q)
{
	struct virtio_net *n = vd->priv;

	if (q == NET_TX)
		virtio_net_tx(vd, n);
	else
		virtio_net_rx(vd, n);
	virtio_net_arm(vd);
}

/* The transport's platform reset, and the tap no longer watched. */
static void virtio_net_reset(struct device *dev)
{
	struct virtio_dev *vd = dev->priv;

	virtio_type_reset(dev);
	pthread_mutex_lock(&vd->lock);
	vd->poll_fd_armed = false;
	pthread_mutex_unlock(&vd->lock);
}

static void virtio_net_destroy(struct virtio_dev *vd)
{
	struct virtio_net *n = vd->priv;

	if (n && n->fd >= 0)
		close(n->fd);
}

/* ---- the tap ---- */

static int virtio_net_open_tap(const char *name, int *fd_out, struct hyve_err *err)
{
	struct ifreq ifr = { 0 };
	int fd;

	/* TUNSETIFF would create a missing interface, which then vanishes
	 * with hyve: only an existing (persistent) tap is used. */
	if (!if_nametoindex(name))
		return err_set(err, ENODEV, "tap %s does not exist (create it: ip tuntap add dev %s mode tap)", name,
			       name);
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errno, "tap %s: /dev/net/tun: %s", name, strerror(errno));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;

		close(fd);
		return err_set(err, e, "tap %s: %s (not a tap device, or in use by another process)", name,
			       strerror(e));
	}
	*fd_out = fd;
	return 0;
}

/* ---- state ---- */

/* The transport's state (fields "pci" and "virtio", as every virtio
 * device saves them) followed by the network device's own. */
struct virtio_net_state {
	struct virtio_pci_state vp;
	uint8_t mac[6];
	uint16_t link_status;
	char tap[IFNAMSIZ];
};
static_assert(offsetof(struct virtio_net_state, vp) == 0, "the transport's fields are at offset 0");

static const struct state_field virtio_net_own_fields[] = {
	FIELD_BYTES(struct virtio_net_state, mac, 1),
	FIELD_U16(struct virtio_net_state, link_status, 1),
	FIELD_STRING(struct virtio_net_state, tap, 1),
};

/* virtio_pci_state_fields (offsets relative to vp, which is at 0) and
 * then ours: composed at start-up so the two cannot drift apart. */
static struct state_field virtio_net_fields[16];

__attribute__((constructor)) static void virtio_net_fields_init(void)
{
	unsigned n = 0;

	for (const struct state_field *f = virtio_pci_state_fields; f->name; f++)
		virtio_net_fields[n++] = *f;
	for (unsigned i = 0; i < sizeof(virtio_net_own_fields) / sizeof(virtio_net_own_fields[0]); i++)
		virtio_net_fields[n++] = virtio_net_own_fields[i];
	virtio_net_fields[n] = (struct state_field)FIELD_END;
}

static const struct state_desc virtio_net_desc =
	STATE_DESC("virtio-net", struct virtio_net_state, 1, virtio_net_fields);

static const struct virtio_dev_ops virtio_net_ops = {
	.device_id = VIRTIO_ID_NET,
	.class_code = 0x020000,
	.nr_queues = 2,
	.queue_max = NET_QUEUE_MAX,
	.features = VIRTIO_NET_FEATURES,
	.config_size = VIRTIO_NET_CONFIG_SIZE,
	.config_read = virtio_net_config_read,
	.queue_notify = virtio_net_queue,
	.destroy = virtio_net_destroy,
};

static int virtio_net_save(struct device *dev, void *state, struct hyve_err *err)
{
	struct virtio_dev *vd = dev->priv;
	struct virtio_net *n = vd->priv;
	struct virtio_net_state *s = state;
	int ret = virtio_type_save(dev, &s->vp, err);

	pthread_mutex_lock(&vd->lock);
	memcpy(s->mac, n->mac, 6);
	s->link_status = n->link_status;
	memcpy(s->tap, n->tap, sizeof(s->tap));
	pthread_mutex_unlock(&vd->lock);
	return ret;
}

static int virtio_net_check(const void *staged, struct hyve_err *err)
{
	const struct virtio_net_state *s = staged;
	int ret = virtio_state_check(&s->vp, &virtio_net_ops, err);

	if (ret)
		return ret;
	if ((s->mac[0] & 1) || !(s->mac[0] | s->mac[1] | s->mac[2] | s->mac[3] | s->mac[4] | s->mac[5]))
		return err_set(err, EINVAL, "saved MAC %02x:%02x:%02x:%02x:%02x:%02x is not a unicast address",
			       s->mac[0], s->mac[1], s->mac[2], s->mac[3], s->mac[4], s->mac[5]);
	if (s->link_status & ~(VIRTIO_NET_S_LINK_UP | VIRTIO_NET_S_ANNOUNCE))
		return err_set(err, EINVAL, "saved link status 0x%x has unknown bits", s->link_status);
	if (!s->tap[0] || !memchr(s->tap, '\0', sizeof(s->tap)))
		return err_set(err, EINVAL, "saved tap name is empty or too long");
	return 0;
}

static int virtio_net_load(struct device *dev, const void *staged, struct hyve_err *err)
{
	struct virtio_dev *vd = dev->priv;
	struct virtio_net *n = vd->priv;
	const struct virtio_net_state *s = staged;
	int ret = virtio_type_load(dev, &s->vp, err);

	if (ret)
		return ret;
	/* The driver read this MAC: it stays, whatever the options say. */
	pthread_mutex_lock(&vd->lock);
	memcpy(n->mac, s->mac, 6);
	n->link_status = s->link_status;
	if (strcmp(n->tap, s->tap) != 0) {
		/* post_load attaches the saved tap by its name. */
		if (n->fd >= 0)
			close(n->fd);
		n->fd = vd->poll_fd = -1;
		memcpy(n->tap, s->tap, sizeof(n->tap));
	}
	pthread_mutex_unlock(&vd->lock);
	return 0;
}

static int virtio_net_post_load(struct device *dev, struct hyve_err *err)
{
	struct virtio_dev *vd = dev->priv;
	struct virtio_net *n = vd->priv;
	int ret = 0, fd;

	pthread_mutex_lock(&vd->lock);
	if (n->fd < 0) {
		ret = virtio_net_open_tap(n->tap, &fd, err);
		if (!ret)
			n->fd = vd->poll_fd = fd;
	}
	pthread_mutex_unlock(&vd->lock);
	return ret ? ret : virtio_type_post_load(dev, err);
}

/* ---- creation ---- */

static int virtio_net_create(struct machine *m, struct device *dev, const struct dev_opts *opts,
			     struct hyve_err *err)
{
	struct virtio_dev *vd = calloc(1, sizeof(*vd));
	struct virtio_net *n = calloc(1, sizeof(*n));
	struct virtio_net_opts o;
	const char *rest;
	unsigned slot, func;
	int ret;

	(void)m;
	(void)opts;
	if (!vd || !n) {
		free(vd);
		free(n);
		return err_set(err, ENOMEM, "virtio-net: out of memory");
	}
	n->fd = -1;
	ret = pci_parse_location(dev->conf[0] ? dev->conf : NULL, &slot, &func, &rest, err);
	if (!ret)
		ret = strncmp(rest, "virtio-net", 10) == 0 && (rest[10] == ',' || !rest[10])
			      ? virtio_net_parse_opts(rest[10] ? rest + 11 : "", &o, err)
			      : err_set(err, EINVAL, "'%s' does not describe a virtio-net", dev->conf);
	if (!ret)
		ret = virtio_net_open_tap(o.tap, &n->fd, err);
	if (ret)
		goto out_free;
	memcpy(n->tap, o.tap, sizeof(n->tap));
	if (o.has_mac)
		memcpy(n->mac, o.mac, 6);
	else
		virtio_net_default_mac(o.tap, slot, func, n->mac);
	n->link_status = VIRTIO_NET_S_LINK_UP;
	ret = virtio_dev_create(vd, dev, &virtio_net_ops, n, &rest, err);
	if (ret)
		goto out_free;
	pthread_mutex_lock(&vd->lock);
	vd->poll_fd = n->fd;
	pthread_mutex_unlock(&vd->lock);
	dev->priv = vd;
	return 0;
out_free:
	if (n->fd >= 0)
		close(n->fd);
	free(n);
	free(vd);
	return ret;
}

static const struct device_type virtio_net_type = {
	.name = "virtio-net",
	.create = virtio_net_create,
	.destroy = virtio_type_destroy,
	.reset = virtio_net_reset,
	.state = &virtio_net_desc,
	.save = virtio_net_save,
	.check = virtio_net_check,
	.load = virtio_net_load,
	.quiesce = virtio_type_quiesce,
	.post_load = virtio_net_post_load,
	.resume = virtio_type_resume,
};
DEVICE_TYPE_REGISTER(virtio_net_type);

/* The virtio PCI transport, modern interface only (virtio 1.2, 4.1).
 *
 * BAR 0 (memory, 16 KiB) holds the four structures the vendor
 * capabilities point at; BAR 1 holds the MSI-X table and PBA (one vector
 * per queue plus one for configuration changes).  A queue notification is
 * a write to BAR 0 + VIRTIO_NOTIFY_OFF + 4 * queue, which KVM turns into an
 * eventfd signal (ioeventfd) without leaving the kernel; when that is not
 * available the MMIO exit signals the same eventfd.  The device's worker
 * thread waits on those eventfds and runs the device's queue handler, so
 * no device I/O runs on a vCPU thread. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hyve/device.h"
#include "hyve/kvm.h"
#include "hyve/machine.h"
#include "hyve/virtio.h"

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_BASE 0x1040 /* 4.1.2.1: 0x1040 + device type */
#define VIRTIO_COMMON_OFF 0x0000
#define VIRTIO_COMMON_LEN 0x40
#define VIRTIO_ISR_OFF 0x1000
#define VIRTIO_DEVICE_OFF 0x2000
#define VIRTIO_NOTIFY_OFF 0x3000
#define VIRTIO_NOTIFY_MULT 4
#define VIRTIO_BAR_SIZE 0x4000
#define VIRTIO_MSIX_BAR 1
#define VIRTIO_MSIX_PBA 0x800

/* 4.1.4 cfg_type */
#define VIRTIO_PCI_CAP_COMMON 1
#define VIRTIO_PCI_CAP_NOTIFY 2
#define VIRTIO_PCI_CAP_ISR 3
#define VIRTIO_PCI_CAP_DEVICE 4
#define VIRTIO_PCI_CAP_PCI_CFG 5

static const struct state_field virtio_common_fields[] = {
	FIELD_U32(struct virtio_common_state, device_feature_select, 1),
	FIELD_U32(struct virtio_common_state, driver_feature_select, 1),
	FIELD_U64(struct virtio_common_state, driver_features, 1),
	FIELD_U16(struct virtio_common_state, msix_config, 1),
	FIELD_U16(struct virtio_common_state, queue_select, 1),
	FIELD_U8(struct virtio_common_state, status, 1),
	FIELD_U8(struct virtio_common_state, config_generation, 1),
	FIELD_U8(struct virtio_common_state, isr, 1),
	FIELD_STRUCT_VARRAY(struct virtio_common_state, queues, struct virtq_state, virtq_state_desc, nr_queues, 1),
	FIELD_END
};
static const struct state_desc virtio_common_desc =
	STATE_DESC("virtio", struct virtio_common_state, 1, virtio_common_fields);

const struct state_field virtio_pci_state_fields[] = {
	FIELD_STRUCT(struct virtio_pci_state, pci, struct pci_func_state, pci_func_state_desc, 1),
	FIELD_STRUCT(struct virtio_pci_state, virtio, struct virtio_common_state, virtio_common_desc, 1),
	FIELD_END
};

static uint64_t virtio_features(const struct virtio_dev *vd)
{
	return vd->ops->features | VIRTIO_F_VERSION_1;
}

static unsigned virtio_nr_vectors(const struct virtio_dev *vd)
{
	return vd->ops->nr_queues + 1;
}

/* ---- interrupts ---- */

static void virtio_raise_isr(struct virtio_dev *vd, uint8_t bit, uint16_t vector)
{
	if (pci_msix_enabled(&vd->pci)) {
		if (vector != VIRTIO_NO_VECTOR)
			pci_msix_notify(&vd->pci, vector);
		return;
	}
	vd->s.isr |= bit;
	pci_intx_set(&vd->pci, true);
}

void virtio_queue_interrupt(struct virtio_dev *vd, unsigned q)
{
	if (virtq_wants_interrupt(&vd->m->mem, &vd->s.queues[q]))
		virtio_raise_isr(vd, 1, vd->s.queues[q].msix_vector);
}

void virtio_needs_reset(struct virtio_dev *vd, const char *why)
{
	if (vd->s.status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	fprintf(stderr, "hyve: %s: driver error, device needs reset: %s\n", vd->pci.name, why);
	vd->s.status |= VIRTIO_STATUS_NEEDS_RESET;
	vd->s.config_generation++;
	virtio_raise_isr(vd, 2, vd->s.msix_config);
}

/* ---- queues ---- */

static bool virtio_running(const struct virtio_dev *vd)
{
	return (vd->s.status & VIRTIO_STATUS_DRIVER_OK) && !(vd->s.status & VIRTIO_STATUS_NEEDS_RESET);
}

int virtio_queue_pop(struct virtio_dev *vd, unsigned q, struct virtq_req *req)
{
	const char *why = NULL;
	int ret;

	if (q >= vd->ops->nr_queues || !vd->s.queues[q].enabled || !virtio_running(vd))
		return 0;
	ret = virtq_pop(&vd->m->mem, &vd->s.queues[q], req, &why);
	if (ret < 0) {
		char msg[160];

		snprintf(msg, sizeof(msg), "queue %u: %s", q, why);
		virtio_needs_reset(vd, msg);
		return 0;
	}
	return ret;
}

void virtio_queue_push(struct virtio_dev *vd, unsigned q, uint16_t head, uint32_t len)
{
	if (virtq_push(&vd->m->mem, &vd->s.queues[q], head, len))
		virtio_needs_reset(vd, "used ring is outside guest RAM");
}

static void virtio_process(struct virtio_dev *vd)
{
	for (unsigned q = 0; q < vd->ops->nr_queues; q++)
		if (virtio_running(vd) && vd->s.queues[q].enabled)
			vd->ops->queue_notify(vd, q);
}

static void virtio_kick_worker(struct virtio_dev *vd)
{
	if (vd->ctl_fd >= 0)
		eventfd_write(vd->ctl_fd, 1);
}

static void *virtio_worker(void *arg)
{
	struct virtio_dev *vd = arg;
	struct pollfd pfd[VIRTIO_MAX_QUEUES + 2];
	unsigned n = 0;
	eventfd_t v;

	pfd[n++] = (struct pollfd){ .fd = vd->ctl_fd, .events = POLLIN };
	for (unsigned q = 0; q < vd->ops->nr_queues; q++)
		pfd[n++] = (struct pollfd){ .fd = vd->kick_fd[q], .events = POLLIN };
	for (;;) {
		unsigned np = n;

		pthread_mutex_lock(&vd->lock);
		/* A backend is watched only while the driver runs: after a
		 * reset nothing would consume its input and poll would spin. */
		if (vd->poll_fd >= 0 && vd->poll_fd_armed && virtio_running(vd))
			pfd[np++] = (struct pollfd){ .fd = vd->poll_fd, .events = POLLIN };
		pthread_mutex_unlock(&vd->lock);
		if (poll(pfd, np, -1) < 0 && errno != EINTR)
			break;
		for (unsigned i = 0; i < n; i++)
			if (pfd[i].revents & POLLIN)
				eventfd_read(pfd[i].fd, &v);
		pthread_mutex_lock(&vd->lock);
		if (vd->stop) {
			pthread_mutex_unlock(&vd->lock);
			break;
		}
		virtio_process(vd);
		if (vd->pause_req) {
			/* Drained: the snapshot sees every request completed. */
			vd->parked = true;
			pthread_cond_broadcast(&vd->cond);
			while (vd->pause_req && !vd->stop)
				pthread_cond_wait(&vd->cond, &vd->lock);
			vd->parked = false;
		}
		pthread_mutex_unlock(&vd->lock);
	}
	return NULL;
}

/* ---- reset and notifications ---- */

static void virtio_reset_locked(struct virtio_dev *vd)
{
	memset(&vd->s, 0, sizeof(vd->s));
	vd->s.msix_config = VIRTIO_NO_VECTOR;
	vd->s.nr_queues = vd->ops->nr_queues;
	for (unsigned q = 0; q < vd->ops->nr_queues; q++) {
		vd->s.queues[q].size = vd->ops->queue_max;
		vd->s.queues[q].msix_vector = VIRTIO_NO_VECTOR;
	}
}

static void virtio_mapping_changed(struct pci_func *f)
{
	struct virtio_dev *vd = f->opaque;
	uint64_t base = pci_bar_addr(f, 0);

	pthread_mutex_lock(&vd->lock);
	for (unsigned q = 0; q < vd->ops->nr_queues; q++) {
		uint64_t addr = base ? base + VIRTIO_NOTIFY_OFF + VIRTIO_NOTIFY_MULT * q : 0;

		if (addr == vd->kick_addr[q])
			continue;
		if (vd->kick_addr[q])
			kvm_ioeventfd(vd->m, vd->kick_fd[q], vd->kick_addr[q], 0, false);
		vd->kick_addr[q] = 0;
		/* Any length (KVM_CAP_IOEVENTFD_ANY_LENGTH); a failure leaves
		 * the notification to the MMIO exit path. */
		if (addr && kvm_ioeventfd(vd->m, vd->kick_fd[q], addr, 0, true) == 0)
			vd->kick_addr[q] = addr;
	}
	pthread_mutex_unlock(&vd->lock);
}

/* ---- common configuration (4.1.4.3) ---- */

static void virtio_put(uint8_t *img, unsigned off, uint64_t v, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		img[off + i] = (uint8_t)(v >> (8 * i));
}

static void virtio_common_read(struct virtio_dev *vd, unsigned off, uint8_t *data, unsigned len)
{
	uint8_t img[VIRTIO_COMMON_LEN] = { 0 };
	uint16_t sel = vd->s.queue_select;
	const struct virtq_state *q = sel < vd->ops->nr_queues ? &vd->s.queues[sel] : NULL;
	uint64_t feat = virtio_features(vd);

	virtio_put(img, 0x00, vd->s.device_feature_select, 4);
	virtio_put(img, 0x04, vd->s.device_feature_select == 0 ? (uint32_t)feat
			      : vd->s.device_feature_select == 1 ? (uint32_t)(feat >> 32) : 0, 4);
	virtio_put(img, 0x08, vd->s.driver_feature_select, 4);
	virtio_put(img, 0x0c, vd->s.driver_feature_select == 0 ? (uint32_t)vd->s.driver_features
			      : vd->s.driver_feature_select == 1 ? (uint32_t)(vd->s.driver_features >> 32) : 0, 4);
	virtio_put(img, 0x10, vd->s.msix_config, 2);
	virtio_put(img, 0x12, vd->ops->nr_queues, 2);
	img[0x14] = vd->s.status;
	img[0x15] = vd->s.config_generation;
	virtio_put(img, 0x16, sel, 2);
	if (q) {
		virtio_put(img, 0x18, q->size, 2);
		virtio_put(img, 0x1a, q->msix_vector, 2);
		virtio_put(img, 0x1c, q->enabled, 2);
		virtio_put(img, 0x1e, sel, 2); /* queue_notify_off */
		virtio_put(img, 0x20, q->desc_addr, 8);
		virtio_put(img, 0x28, q->driver_addr, 8);
		virtio_put(img, 0x30, q->device_addr, 8);
	}
	if (off < VIRTIO_COMMON_LEN)
		memcpy(data, img + off, len > VIRTIO_COMMON_LEN - off ? VIRTIO_COMMON_LEN - off : len);
}

static uint16_t virtio_vector(const struct virtio_dev *vd, uint64_t v)
{
	/* 4.1.5.1.2: a vector the device cannot map reads back NO_VECTOR. */
	return v < virtio_nr_vectors(vd) ? (uint16_t)v : VIRTIO_NO_VECTOR;
}

static void virtio_set_status(struct virtio_dev *vd, uint8_t v)
{
	uint8_t old = vd->s.status;

	if (v == 0) {
		virtio_reset_locked(vd);
		pci_intx_set(&vd->pci, false);
		return;
	}
	/* 3.1.1: FEATURES_OK sticks only if the device accepts the features. */
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    ((vd->s.driver_features & ~virtio_features(vd)) || !(vd->s.driver_features & VIRTIO_F_VERSION_1)))
		v &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK))
		v &= (uint8_t)~VIRTIO_STATUS_DRIVER_OK;
	vd->s.status = (uint8_t)((v & ~VIRTIO_STATUS_NEEDS_RESET) | (old & VIRTIO_STATUS_NEEDS_RESET));
	if ((vd->s.status & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK))
		virtio_kick_worker(vd);
}

static void virtio_set_addr(uint64_t *a, unsigned off, uint64_t v, unsigned len)
{
	if (len == 8)
		*a = v;
	else if (off % 8 == 0)
		*a = (*a & ~0xffffffffULL) | (uint32_t)v;
	else
		*a = (*a & 0xffffffffULL) | (uint64_t)(uint32_t)v << 32;
}

static void virtio_common_write(struct virtio_dev *vd, unsigned off, uint64_t v, unsigned len)
{
	uint16_t sel = vd->s.queue_select;
	struct virtq_state *q = sel < vd->ops->nr_queues ? &vd->s.queues[sel] : NULL;
	bool qw = q && !q->enabled; /* queue fields are fixed once enabled */

	switch (off) {
	case 0x00:
		vd->s.device_feature_select = (uint32_t)v;
		break;
	case 0x08:
		vd->s.driver_feature_select = (uint32_t)v;
		break;
	case 0x0c:
		if (vd->s.status & VIRTIO_STATUS_FEATURES_OK)
			break;
		if (vd->s.driver_feature_select == 0)
			vd->s.driver_features = (vd->s.driver_features & ~0xffffffffULL) | (uint32_t)v;
		else if (vd->s.driver_feature_select == 1)
			vd->s.driver_features = (vd->s.driver_features & 0xffffffffULL) | (uint64_t)(uint32_t)v << 32;
		break;
	case 0x10:
		vd->s.msix_config = virtio_vector(vd, v);
		break;
	case 0x14:
		virtio_set_status(vd, (uint8_t)v);
		break;
	case 0x16:
		vd->s.queue_select = (uint16_t)v;
		break;
	case 0x18:
		/* 2.7: a power of two no larger than the maximum; else kept. */
		if (qw && v && v <= vd->ops->queue_max && !(v & (v - 1)))
			q->size = (uint16_t)v;
		break;
	case 0x1a:
		if (q)
			q->msix_vector = virtio_vector(vd, v);
		break;
	case 0x1c:
		if (qw && v == 1) {
			const char *why;

			if (virtq_check(&vd->m->mem, q, vd->ops->queue_max, &why) == 0) {
				q->enabled = true;
			} else {
				char msg[160];

				snprintf(msg, sizeof(msg), "enabling queue %u: %s", sel, why);
				virtio_needs_reset(vd, msg);
			}
		}
		break;
	case 0x20: case 0x24:
		if (qw)
			virtio_set_addr(&q->desc_addr, off, v, len);
		break;
	case 0x28: case 0x2c:
		if (qw)
			virtio_set_addr(&q->driver_addr, off, v, len);
		break;
	case 0x30: case 0x34:
		if (qw)
			virtio_set_addr(&q->device_addr, off, v, len);
		break;
	default:
		break; /* read-only or reserved */
	}
}

static void virtio_bar_access(struct pci_func *f, unsigned bar, uint64_t off, uint8_t *data, unsigned len,
			      bool is_write)
{
	struct virtio_dev *vd = f->opaque;
	uint64_t v = 0;

	if (bar != 0)
		return;
	for (unsigned i = 0; i < len; i++)
		v |= (uint64_t)data[i] << (8 * i);
	if (off >= VIRTIO_NOTIFY_OFF) {
		uint64_t q = (off - VIRTIO_NOTIFY_OFF) / VIRTIO_NOTIFY_MULT;

		if (is_write && q < vd->ops->nr_queues)
			eventfd_write(vd->kick_fd[q], 1);
		else if (!is_write)
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&vd->lock);
	if (off < VIRTIO_COMMON_OFF + VIRTIO_COMMON_LEN) {
		if (!is_write)
			virtio_common_read(vd, (unsigned)off, data, len);
		else if (off % len == 0 && (len == 1 || len == 2 || len == 4 || len == 8))
			virtio_common_write(vd, (unsigned)off, v, len);
	} else if (off >= VIRTIO_ISR_OFF && off < VIRTIO_ISR_OFF + 4) {
		if (!is_write) {
			/* 4.1.4.5: reading the ISR status clears it (and INTx). */
			memset(data, 0, len);
			data[0] = off == VIRTIO_ISR_OFF ? vd->s.isr : 0;
			if (off == VIRTIO_ISR_OFF && vd->s.isr) {
				vd->s.isr = 0;
				pci_intx_set(&vd->pci, false);
			}
		}
	} else if (off >= VIRTIO_DEVICE_OFF && off - VIRTIO_DEVICE_OFF < vd->ops->config_size) {
		unsigned o = (unsigned)(off - VIRTIO_DEVICE_OFF);

		if (len > vd->ops->config_size - o)
			len = vd->ops->config_size - o;
		if (!is_write) {
			memset(data, 0, len);
			if (vd->ops->config_read)
				vd->ops->config_read(vd, o, data, len);
		} else if (vd->ops->config_write) {
			vd->ops->config_write(vd, o, data, len);
		}
	} else if (!is_write) {
		memset(data, 0, len);
	}
	pthread_mutex_unlock(&vd->lock);
}

/* VIRTIO_PCI_CAP_PCI_CFG (4.1.4.9): pci_cfg_data reaches `length` bytes
 * at `offset` of BAR `bar`, as the driver set them in the capability. */
static void virtio_pci_cfg_hook(struct pci_func *f, unsigned reg, uint8_t *data, unsigned len, bool is_write)
{
	unsigned cap = f->cfg_hook_start - 16, n;
	uint32_t off, length;
	uint8_t bar, buf[4] = { 0 };

	pthread_mutex_lock(&f->lock);
	bar = f->cfg[cap + 4];
	memcpy(&off, &f->cfg[cap + 8], 4);
	memcpy(&length, &f->cfg[cap + 12], 4);
	pthread_mutex_unlock(&f->lock);
	if (!is_write)
		memset(data, 0, len);
	/* Only naturally aligned 1, 2 or 4-byte windows inside BAR 0. */
	if (bar != 0 || (length != 1 && length != 2 && length != 4) || off % length ||
	    off + length > VIRTIO_BAR_SIZE || reg != f->cfg_hook_start)
		return;
	n = len < length ? len : length;
	if (is_write)
		memcpy(buf, data, n);
	virtio_bar_access(f, 0, off, buf, length, is_write);
	if (!is_write)
		memcpy(data, buf, n);
}

static const struct pci_func_ops virtio_pci_ops = {
	.bar_access = virtio_bar_access,
	.mapping_changed = virtio_mapping_changed,
	.cfg_hook = virtio_pci_cfg_hook,
};

/* ---- creation ---- */

static int virtio_add_cap(struct virtio_dev *vd, uint8_t type, uint32_t off, uint32_t len, bool notify,
			  struct hyve_err *err)
{
	uint8_t cap[20] = { PCI_CAP_ID_VNDR, 0, notify ? 20 : 16, type, 0 };
	uint32_t mult = VIRTIO_NOTIFY_MULT;
	int ret;

	memcpy(&cap[8], &off, 4);
	memcpy(&cap[12], &len, 4);
	if (notify)
		memcpy(&cap[16], &mult, 4);
	ret = pci_func_add_cap(&vd->pci, cap, notify ? 20 : 16, err);
	return ret < 0 ? ret : 0;
}

/* bar, offset and length are the driver's to set; pci_cfg_data is the
 * window (config hook). */
static int virtio_add_pci_cfg_cap(struct virtio_dev *vd, struct hyve_err *err)
{
	uint8_t cap[20] = { PCI_CAP_ID_VNDR, 0, 20, VIRTIO_PCI_CAP_PCI_CFG };
	int off = pci_func_add_cap(&vd->pci, cap, sizeof(cap), err);

	if (off < 0)
		return off;
	vd->pci.wmask[off + 4] = 0xff;
	memset(&vd->pci.wmask[off + 8], 0xff, 8);
	vd->pci.cfg_hook_start = (uint8_t)(off + 16);
	vd->pci.cfg_hook_len = 4;
	return 0;
}

int virtio_dev_create(struct virtio_dev *vd, struct device *dev, const struct virtio_dev_ops *ops, void *priv,
		      const char **rest, struct hyve_err *err)
{
	unsigned slot, func;
	const char *p;
	size_t elen = strlen(dev->type->name);
	int ret;

	ret = pci_parse_location(dev->conf[0] ? dev->conf : NULL, &slot, &func, &p, err);
	if (ret)
		return ret;
	if (strncmp(p, dev->type->name, elen) != 0 || (p[elen] != '\0' && p[elen] != ','))
		return err_set(err, EINVAL, "'%s' does not describe a %s", dev->conf, dev->type->name);
	if (dev->instance != slot * PCI_NR_FUNCS + func)
		return err_set(err, EINVAL, "instance %u is not slot %u:%u", dev->instance, slot, func);
	*rest = p[elen] == ',' ? p + elen + 1 : "";
	vd->dev = dev;
	vd->m = dev->machine;
	vd->ops = ops;
	vd->priv = priv;
	vd->ctl_fd = -1;
	vd->poll_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vd->kick_fd[q] = -1;
	pthread_mutex_init(&vd->lock, NULL);
	pthread_cond_init(&vd->cond, NULL);
	virtio_reset_locked(vd);
	pci_func_init(&vd->pci, vd->m, VIRTIO_PCI_VENDOR, (uint16_t)(VIRTIO_PCI_DEVICE_BASE + ops->device_id),
		      ops->class_code, 1, &virtio_pci_ops, vd);
	snprintf(vd->pci.name, sizeof(vd->pci.name), "%s %u:%u", dev->type->name, slot, func);
	ret = pci_func_add_bar(&vd->pci, 0, VIRTIO_BAR_SIZE, false, err);
	if (!ret)
		ret = pci_func_add_bar(&vd->pci, VIRTIO_MSIX_BAR, 0x1000, false, err);
	if (!ret)
		ret = pci_msix_init(&vd->pci, VIRTIO_MSIX_BAR, 0, VIRTIO_MSIX_PBA, virtio_nr_vectors(vd), err);
	if (!ret)
		ret = virtio_add_cap(vd, VIRTIO_PCI_CAP_COMMON, VIRTIO_COMMON_OFF, VIRTIO_COMMON_LEN, false, err);
	if (!ret)
		ret = virtio_add_cap(vd, VIRTIO_PCI_CAP_NOTIFY, VIRTIO_NOTIFY_OFF,
				     VIRTIO_NOTIFY_MULT * ops->nr_queues, true, err);
	if (!ret)
		ret = virtio_add_cap(vd, VIRTIO_PCI_CAP_ISR, VIRTIO_ISR_OFF, 4, false, err);
	if (!ret && ops->config_size)
		ret = virtio_add_cap(vd, VIRTIO_PCI_CAP_DEVICE, VIRTIO_DEVICE_OFF, ops->config_size, false, err);
	if (!ret)
		ret = virtio_add_pci_cfg_cap(vd, err);
	if (ret)
		return ret;
	vd->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (unsigned q = 0; q < ops->nr_queues; q++)
		vd->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (unsigned q = 0; q < ops->nr_queues; q++)
		if (vd->kick_fd[q] < 0)
			ret = err_set(err, errno, "eventfd: %s", strerror(errno));
	if (vd->ctl_fd < 0)
		ret = err_set(err, errno, "eventfd: %s", strerror(errno));
	if (!ret)
		ret = pci_func_register(&vd->pci, slot, func, err);
	if (ret)
		goto out_fds;
	if (pthread_create(&vd->thread, NULL, virtio_worker, vd) != 0) {
		ret = err_set(err, EAGAIN, "cannot start the worker thread");
		pci_func_unregister(&vd->pci);
		goto out_fds;
	}
	vd->thread_started = true;
	return 0;
out_fds:
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (vd->kick_fd[q] >= 0)
			close(vd->kick_fd[q]);
	if (vd->ctl_fd >= 0)
		close(vd->ctl_fd);
	vd->ctl_fd = -1;
	return ret;
}

void virtio_dev_destroy(struct virtio_dev *vd)
{
	if (vd->thread_started) {
		pthread_mutex_lock(&vd->lock);
		vd->stop = true;
		pthread_cond_broadcast(&vd->cond);
		pthread_mutex_unlock(&vd->lock);
		virtio_kick_worker(vd);
		pthread_join(vd->thread, NULL);
		vd->thread_started = false;
	}
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (vd->kick_addr[q] && vd->pci.host)
			kvm_ioeventfd(vd->m, vd->kick_fd[q], vd->kick_addr[q], 0, false);
		if (vd->kick_fd[q] >= 0)
			close(vd->kick_fd[q]);
	}
	if (vd->ctl_fd >= 0)
		close(vd->ctl_fd);
	pci_func_unregister(&vd->pci);
	pthread_mutex_destroy(&vd->lock);
	pthread_cond_destroy(&vd->cond);
}

/* ---- device_type hooks ---- */

void virtio_type_reset(struct device *dev)
{
	struct virtio_dev *vd = dev->priv;

	pthread_mutex_lock(&vd->lock);
	virtio_reset_locked(vd);
	pthread_mutex_unlock(&vd->lock);
	pci_func_reset(&vd->pci);
}

int virtio_type_save(struct device *dev, void *state, struct hyve_err *err)
{
	struct virtio_dev *vd = dev->priv;
	struct virtio_pci_state *s = state;

	(void)err;
	pci_func_save(&vd->pci, &s->pci);
	pthread_mutex_lock(&vd->lock);
	s->virtio = vd->s;
	pthread_mutex_unlock(&vd->lock);
	return 0;
}

int virtio_state_check(const struct virtio_pci_state *s, const struct virtio_dev_ops *ops, struct hyve_err *err)
{
	const struct virtio_common_state *v = &s->virtio;
	int ret = pci_func_check(&s->pci, err);

	if (ret)
		return ret;
	if (s->pci.vendor_id != VIRTIO_PCI_VENDOR || s->pci.device_id != VIRTIO_PCI_DEVICE_BASE + ops->device_id)
		return err_set(err, EINVAL, "function %04x:%04x is not virtio device type %u", s->pci.vendor_id,
			       s->pci.device_id, ops->device_id);
	if (v->nr_queues != ops->nr_queues)
		return err_set(err, EINVAL, "%u queues saved, the device has %u", v->nr_queues, ops->nr_queues);
	if (v->status & 0x30)
		return err_set(err, EINVAL, "device status 0x%x has reserved bits", v->status);
	if (v->msix_config != VIRTIO_NO_VECTOR && v->msix_config > ops->nr_queues)
		return err_set(err, EINVAL, "msix_config vector %u does not exist", v->msix_config);
	for (unsigned q = 0; q < v->nr_queues; q++) {
		const struct virtq_state *vq = &v->queues[q];

		if (!vq->size || vq->size > ops->queue_max || (vq->size & (vq->size - 1)))
			return err_set(err, EINVAL, "queue %u: size %u is not a power of two up to %u", q, vq->size,
				       ops->queue_max);
		if (vq->msix_vector != VIRTIO_NO_VECTOR && vq->msix_vector > ops->nr_queues)
			return err_set(err, EINVAL, "queue %u: MSI-X vector %u does not exist", q, vq->msix_vector);
		/* The driver never runs more than a queue ahead of the device. */
		if ((uint16_t)(vq->last_avail_idx - vq->used_idx) > vq->size)
			return err_set(err, EINVAL, "queue %u: %u requests in flight in a queue of %u", q,
				       (uint16_t)(vq->last_avail_idx - vq->used_idx), vq->size);
	}
	return 0;
}

int virtio_type_load(struct device *dev, const void *staged, struct hyve_err *err)
{
	struct virtio_dev *vd = dev->priv;
	const struct virtio_pci_state *s = staged;
	int ret;

	if (s->virtio.driver_features & ~virtio_features(vd))
		return err_set(err, EINVAL, "driver features 0x%llx were never offered by this device",
			       (unsigned long long)s->virtio.driver_features);
	pthread_mutex_lock(&vd->lock);
	vd->s = s->virtio;
	pthread_mutex_unlock(&vd->lock);
	ret = pci_func_load(&vd->pci, &s->pci, err);
	return ret;
}

int virtio_type_quiesce(struct device *dev, struct hyve_err *err)
{
	struct virtio_dev *vd = dev->priv;

	pthread_mutex_lock(&vd->lock);
	if (!vd->thread_started) {
		virtio_process(vd);
	} else {
		vd->pause_req = true;
		virtio_kick_worker(vd);
		while (!vd->parked)
			pthread_cond_wait(&vd->cond, &vd->lock);
	}
	pthread_mutex_unlock(&vd->lock);
	return vd->ops->quiesce ? vd->ops->quiesce(vd, err) : 0;
}

void virtio_type_resume(struct device *dev)
{
	struct virtio_dev *vd = dev->priv;

	pthread_mutex_lock(&vd->lock);
	vd->pause_req = false;
	pthread_cond_broadcast(&vd->cond);
	pthread_mutex_unlock(&vd->lock);
}

int virtio_type_post_load(struct device *dev, struct hyve_err *err)
{
	(void)err;
	/* Requests the driver made available before the save may have been
	 * notified already: look at every queue once. */
	virtio_kick_worker(dev->priv);
	return 0;
}

void virtio_type_destroy(struct device *dev)
{
	struct virtio_dev *vd = dev->priv;

	if (!vd)
		return;
	virtio_dev_destroy(vd);
	if (vd->ops->destroy)
		vd->ops->destroy(vd);
	free(vd->priv);
	free(vd);
}

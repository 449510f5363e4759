/* virtio 1.2 over PCI (modern interface only) and split virtqueues.
 *
 * src/dev/virtqueue.c walks a split virtqueue (virtio 1.2, 2.7) in guest
 * RAM: every ring and buffer address is checked with guest_ptr, every
 * descriptor index against the queue size; a chain longer than the queue
 * (a loop), an indirect descriptor (not offered) or a readable descriptor
 * after a writable one is refused, and the device is then marked
 * DEVICE_NEEDS_RESET by the transport.
 *
 * src/dev/virtio_pci.c is the PCI transport (4.1): the capabilities, the
 * common configuration, the ISR, notifications (ioeventfd, else MMIO exits)
 * and interrupts (MSI-X via irqfd, else INTx), a worker thread per device
 * that runs the device's queue handlers off the vCPU threads, and the
 * saved state.  Devices: virtio_rng.c, virtio_blk.c. */
#ifndef HYVE_VIRTIO_H
#define HYVE_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hyve/err.h"
#include "hyve/mem.h"
#include "hyve/pci.h"
#include "hyve/state.h"

#define VIRTQ_MAX_SIZE 256
#define VIRTIO_MAX_QUEUES 4
#define VIRTIO_NO_VECTOR 0xffff

/* 2.7.5 */
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

/* 2.1 device status */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

#define VIRTIO_F_VERSION_1 (1ULL << 32)

/* The saved state of one split virtqueue. */
struct virtq_state {
	uint16_t size;           /* queue_size as the driver set it */
	bool enabled;            /* queue_enable */
	uint16_t msix_vector;    /* queue_msix_vector */
	uint64_t desc_addr;      /* queue_desc */
	uint64_t driver_addr;    /* queue_driver: the available ring */
	uint64_t device_addr;    /* queue_device: the used ring */
	uint16_t last_avail_idx; /* next available entry the device takes */
	uint16_t used_idx;       /* next used index the device publishes */
};
extern const struct state_desc virtq_state_desc;

/* One buffer segment, already translated to a host pointer. */
struct virtq_seg {
	uint8_t *host;
	uint32_t len;
};

/* A request: the chain at `head`, its device-readable segments first
 * (seg[0 .. nr_out)), then its device-writable ones. */
struct virtq_req {
	uint16_t head;
	unsigned nr_out, nr_in;
	uint64_t out_len, in_len;
	struct virtq_seg seg[VIRTQ_MAX_SIZE];
};

/* Rings of `q` inside guest RAM and aligned (2.7: 16/2/4 bytes), size a
 * power of two no larger than `max`.  0 or -EINVAL with *why set. */
int virtq_check(const struct guest_mem *gm, const struct virtq_state *q, uint16_t max, const char **why);
/* Takes the next available chain: 1 = *req filled, 0 = nothing available,
 * -EINVAL = the driver broke the rules (*why says how; nothing consumed). */
int virtq_pop(const struct guest_mem *gm, struct virtq_state *q, struct virtq_req *req, const char **why);
/* Something is available (without taking it). */
bool virtq_has_avail(const struct guest_mem *gm, const struct virtq_state *q);
/* Gives back the chain virtq_pop just took (nothing was pushed). */
void virtq_unpop(struct virtq_state *q);
/* Publishes `head` as used with `len` bytes written. */
int virtq_push(const struct guest_mem *gm, struct virtq_state *q, uint16_t head, uint32_t len);
/* The driver has not suppressed used-buffer notifications. */
bool virtq_wants_interrupt(const struct guest_mem *gm, const struct virtq_state *q);
/* Copies between a request's segments and a flat buffer, from byte
 * `offset` of the readable (out) or writable (in) part; returns the bytes
 * copied (short at the end of the part). */
uint64_t virtq_req_read(const struct virtq_req *req, uint64_t offset, void *buf, uint64_t len);
uint64_t virtq_req_write(const struct virtq_req *req, uint64_t offset, const void *buf, uint64_t len);

/* ---- the PCI transport ---- */

struct virtio_dev;

struct virtio_dev_ops {
	uint16_t device_id;   /* 5 "Device Types": 1 net, 2 blk, 3 console, 4 rng */
	uint32_t class_code;
	unsigned nr_queues;
	uint16_t queue_max;
	uint64_t features;    /* device features; VERSION_1 is added */
	unsigned config_size; /* device-specific configuration bytes */
	/* Device-specific configuration (vd->lock held). */
	void (*config_read)(struct virtio_dev *vd, unsigned offset, uint8_t *data, unsigned len);
	void (*config_write)(struct virtio_dev *vd, unsigned offset, const uint8_t *data, unsigned len);
	/* Handles queue `q`'s available buffers: worker thread, vd->lock held. */
	void (*queue_notify)(struct virtio_dev *vd, unsigned q);
	/* Before a snapshot, after the worker drained the queues. */
	int (*quiesce)(struct virtio_dev *vd, struct hyve_err *err);
	/* Releases backends; the worker has stopped.  vd->priv is freed
	 * after it. */
	void (*destroy)(struct virtio_dev *vd);
};

struct virtio_common_state {
	uint32_t device_feature_select;
	uint32_t driver_feature_select;
	uint64_t driver_features;
	uint16_t msix_config;
	uint16_t queue_select;
	uint8_t status;
	uint8_t config_generation;
	uint8_t isr;
	uint32_t nr_queues;
	struct virtq_state queues[VIRTIO_MAX_QUEUES];
};

/* What a virtio device saves: its PCI function and the transport. */
struct virtio_pci_state {
	struct pci_func_state pci;
	struct virtio_common_state virtio;
};
extern const struct state_field virtio_pci_state_fields[];

struct device;

struct virtio_dev {
	struct device *dev;
	struct machine *m;
	const struct virtio_dev_ops *ops;
	void *priv;
	struct pci_func pci;
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;
	struct virtio_common_state s;
	int kick_fd[VIRTIO_MAX_QUEUES]; /* ioeventfd targets */
	uint64_t kick_addr[VIRTIO_MAX_QUEUES];
	int ctl_fd;
	/* A backend fd the worker also waits on while poll_fd_armed (e.g. a
	 * console socket while the driver has receive buffers). */
	int poll_fd;
	bool poll_fd_armed;
	pthread_t thread;
	bool thread_started, stop, pause_req, parked;
	struct virtq_req req; /* the worker's scratch request */
};

/* For a device type's create: parses "slot:func,emulation[,...]",
 * builds the function, starts the worker.  *rest = the device options. */
int virtio_dev_create(struct virtio_dev *vd, struct device *dev, const struct virtio_dev_ops *ops, void *priv,
		      const char **rest, struct hyve_err *err);
void virtio_dev_destroy(struct virtio_dev *vd);

/* For queue handlers (vd->lock held): take, complete, interrupt. */
int virtio_queue_pop(struct virtio_dev *vd, unsigned q, struct virtq_req *req);
void virtio_queue_push(struct virtio_dev *vd, unsigned q, uint16_t head, uint32_t len);
void virtio_queue_interrupt(struct virtio_dev *vd, unsigned q);
/* The driver broke the rules: DEVICE_NEEDS_RESET, config interrupt. */
void virtio_needs_reset(struct virtio_dev *vd, const char *why);

/* Generic device_type hooks: dev->priv is the struct virtio_dev. */
void virtio_type_destroy(struct device *dev);
void virtio_type_reset(struct device *dev);
int virtio_type_save(struct device *dev, void *state, struct hyve_err *err);
int virtio_type_load(struct device *dev, const void *staged, struct hyve_err *err);
int virtio_type_quiesce(struct device *dev, struct hyve_err *err);
int virtio_type_post_load(struct device *dev, struct hyve_err *err);
void virtio_type_resume(struct device *dev);
int virtio_state_check(const struct virtio_pci_state *s, const struct virtio_dev_ops *ops, struct hyve_err *err);

#endif

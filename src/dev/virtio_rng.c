/* virtio-rng, the entropy device (virtio 1.2, 5.4): every buffer the
 * driver offers on its one queue comes back filled from getrandom(2). */
#include <stdlib.h>
#include <sys/random.h>

#include "hyve/device.h"
#include "hyve/virtio.h"

#define VIRTIO_ID_RNG 4

static void virtio_rng_queue(struct virtio_dev *vd, unsigned q)
{
	struct virtq_req *req = &vd->req;
	bool done = false;

	while (virtio_queue_pop(vd, q, req) > 0) {
		uint32_t written = 0;

		for (unsigned i = req->nr_out; i < req->nr_out + req->nr_in; i++) {
			const struct virtq_seg *s = &req->seg[i];
			uint32_t got = 0;

			while (got < s->len) {
				ssize_t n = getrandom(s->host + got, s->len - got, 0);

				if (n <= 0)
					break;
				got += (uint32_t)n;
			}
			written += got;
			if (got < s->len)
				break;
		}
		virtio_queue_push(vd, q, req->head, written);
		done = true;
	}
	if (done)
		virtio_queue_interrupt(vd, q);
}

static const struct virtio_dev_ops virtio_rng_ops = {
	.device_id = VIRTIO_ID_RNG,
	.class_code = 0x00ff00,
	.nr_queues = 1,
	.queue_max = 256,
	.queue_notify = virtio_rng_queue,
};

static const struct state_desc virtio_rng_desc =
	STATE_DESC("virtio-rng", struct virtio_pci_state, 1, virtio_pci_state_fields);

static int virtio_rng_create(struct machine *m, struct device *dev, const struct dev_opts *opts,
			     struct hyve_err *err)
{
	struct virtio_dev *vd = calloc(1, sizeof(*vd));
	const char *rest;
	int ret;

	(void)m;
	(void)opts;
	if (!vd)
		return err_set(err, ENOMEM, "virtio-rng: out of memory");
	ret = virtio_dev_create(vd, dev, &virtio_rng_ops, NULL, &rest, err);
	if (!ret && rest[0]) {
		virtio_dev_destroy(vd);
		ret = err_set(err, EINVAL, "virtio-rng takes no options (got '%s')", rest);
	}
	if (ret) {
		free(vd);
		return ret;
	}
	dev->priv = vd;
	return 0;
}

static int virtio_rng_check(const void *staged, struct hyve_err *err)
{
	return virtio_state_check(staged, &virtio_rng_ops, err);
}

static const struct device_type virtio_rng_type = {
	.name = "virtio-rng",
	.create = virtio_rng_create,
	.destroy = virtio_type_destroy,
	.reset = virtio_type_reset,
	.state = &virtio_rng_desc,
	.save = virtio_type_save,
	.check = virtio_rng_check,
	.load = virtio_type_load,
	.quiesce = virtio_type_quiesce,
	.post_load = virtio_type_post_load,
	.resume = virtio_type_resume,
};
DEVICE_TYPE_REGISTER(virtio_rng_type);

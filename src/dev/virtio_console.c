/* virtio-console (virtio 1.2, 5.3), one port, no optional features:
 * -s SLOT,virtio-console,PATH          output appended to a file
 * -s SLOT,virtio-console,socket=PATH   hyve connects to a listening UNIX
 *                                      stream socket: output goes to it,
 *                                      its input reaches the guest
 * Queue 0 is receiveq (host to guest), queue 1 transmitq.  The backend is
 * reopened from the same options on restore; input waits in the socket
 * until the driver offers receive buffers, so none is dropped. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hyve/device.h"
#include "hyve/machine.h"
#include "hyve/virtio.h"

#define VIRTIO_ID_CONSOLE 3
#define CONSOLE_RX 0
#define CONSOLE_TX 1

struct virtio_console {
	int fd;
	bool is_socket;
	struct iovec iov[VIRTQ_MAX_SIZE];
};

static void virtio_console_tx(struct virtio_dev *vd, struct virtio_console *c)
{
	struct virtq_req *req = &vd->req;
	bool done = false;

	while (virtio_queue_pop(vd, CONSOLE_TX, req) > 0) {
		for (unsigned i = 0; i < req->nr_out && c->fd >= 0; i++) {
			const uint8_t *p = req->seg[i].host;
			uint32_t left = req->seg[i].len;

			while (left) {
				ssize_t n = c->is_socket ? send(c->fd, p, left, MSG_NOSIGNAL) : write(c->fd, p, left);

				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					break; /* a gone peer: output is dropped, as on a serial line */
				p += n;
				left -= (uint32_t)n;
			}
		}
		virtio_queue_push(vd, CONSOLE_TX, req->head, 0);
		done = true;
	}
	if (done)
		virtio_queue_interrupt(vd, CONSOLE_TX);
}

static void virtio_console_rx(struct virtio_dev *vd, struct virtio_console *c)
{
	struct virtq_req *req = &vd->req;
	bool done = false;

	while (c->is_socket && c->fd >= 0 && virtio_queue_pop(vd, CONSOLE_RX, req) > 0) {
		unsigned n = 0;
		ssize_t got;

		for (unsigned i = req->nr_out; i < req->nr_out + req->nr_in; i++)
			c->iov[n++] = (struct iovec){ req->seg[i].host, req->seg[i].len };
		struct msghdr msg = { .msg_iov = c->iov, .msg_iovlen = n };

		got = n ? recvmsg(c->fd, &msg, MSG_DONTWAIT) : -1;
		if (got <= 0) {
			/* Nothing to read now: the buffer stays the driver's. */
			virtq_unpop(&vd->s.queues[CONSOLE_RX]);
			if (got == 0) {
				close(c->fd); /* the peer hung up */
				c->fd = vd->poll_fd = -1;
			}
			break;
		}
		virtio_queue_push(vd, CONSOLE_RX, req->head, (uint32_t)got);
		done = true;
	}
	if (done)
		virtio_queue_interrupt(vd, CONSOLE_RX);
	/* Wait on the socket only while there is somewhere to put its bytes. */
	vd->poll_fd_armed = (vd->s.status & VIRTIO_STATUS_DRIVER_OK) &&
			    !(vd->s.status & VIRTIO_STATUS_NEEDS_RESET) && vd->s.queues[CONSOLE_RX].enabled &&
			    virtq_has_avail(&vd->m->mem, &vd->s.queues[CONSOLE_RX]);
}

static void virtio_console_queue(struct virtio_dev *vd, unsigned q)
{
	struct virtio_console *c = vd->priv;

	if (q == CONSOLE_TX)
		virtio_console_tx(vd, c);
	else
		virtio_console_rx(vd, c);
}

static void virtio_console_destroy(struct virtio_dev *vd)
{
	struct virtio_console *c = vd->priv;

	if (c && c->fd >= 0)
		close(c->fd);
}

static int virtio_console_open(struct virtio_console *c, const char *opts, struct hyve_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (!opts[0])
		return err_set(err, EINVAL, "virtio-console needs PATH or socket=PATH");
	if (strncmp(opts, "socket=", 7) != 0) {
		c->fd = open(opts, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (c->fd < 0)
			return err_set(err, errno, "console file %s: %s", opts, strerror(errno));
		return 0;
	}
	opts += 7;
	if (strlen(opts) >= sizeof(sa.sun_path))
		return err_set(err, ENAMETOOLONG, "console socket path '%s' is too long", opts);
	strcpy(sa.sun_path, opts);
	c->is_socket = true;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return err_set(err, errno, "console socket: %s", strerror(errno));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_set(err, errno, "console socket %s: %s (hyve connects to a listening socket)", opts,
			       strerror(errno));
	return 0;
}

static const struct virtio_dev_ops virtio_console_ops = {
	.device_id = VIRTIO_ID_CONSOLE,
	.class_code = 0x078000,
	.nr_queues = 2,
	.queue_max = 256,
	.queue_notify = virtio_console_queue,
	.destroy = virtio_console_destroy,
};

static const struct state_desc virtio_console_desc =
	STATE_DESC("virtio-console", struct virtio_pci_state, 1, virtio_pci_state_fields);

static int virtio_console_create(struct machine *m, struct device *dev, const struct dev_opts *opts,
				 struct hyve_err *err)
{
	struct virtio_dev *vd = calloc(1, sizeof(*vd));
	struct virtio_console *c = calloc(1, sizeof(*c));
	const char *rest;
	int ret;

	(void)m;
	(void)opts;
	if (!vd || !c) {
		free(vd);
		free(c);
		return err_set(err, ENOMEM, "virtio-console: out of memory");
	}
	c->fd = -1;
	ret = virtio_dev_create(vd, dev, &virtio_console_ops, c, &rest, err);
	if (ret) {
		free(c);
		free(vd);
		return ret;
	}
	ret = virtio_console_open(c, rest, err);
	if (ret) {
		virtio_dev_destroy(vd);
		virtio_console_destroy(vd);
		free(c);
		free(vd);
		return ret;
	}
	pthread_mutex_lock(&vd->lock);
	vd->poll_fd = c->is_socket ? c->fd : -1;
	pthread_mutex_unlock(&vd->lock);
	dev->priv = vd;
	return 0;
}

static int virtio_console_check(const void *staged, struct hyve_err *err)
{
	return virtio_state_check(staged, &virtio_console_ops, err);
}

static const struct device_type virtio_console_type = {
	.name = "virtio-console",
	.create = virtio_console_create,
	.destroy = virtio_type_destroy,
	.reset = virtio_type_reset,
	.state = &virtio_console_desc,
	.save = virtio_type_save,
	.check = virtio_console_check,
	.load = virtio_type_load,
	.quiesce = virtio_type_quiesce,
	.post_load = virtio_type_post_load,
	.resume = virtio_type_resume,
};
DEVICE_TYPE_REGISTER(virtio_console_type);

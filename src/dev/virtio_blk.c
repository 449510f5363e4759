/* virtio-blk (virtio 1.2, 5.2) on a raw file or block device:
 * -s SLOT,virtio-blk,PATH[,ro][,sectorsize=N]
 *
 * Requests run on the device's worker thread (pread/pwrite); a request is
 * completed (used ring + interrupt) only once the host call returned, and a
 * FLUSH only once fdatasync did.  Before a snapshot the worker drains every
 * available request and the disk is fdatasync'ed, so the disk file then
 * holds every write the guest has seen acknowledged (docs/virtio.md). */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hyve/device.h"
#include "hyve/virtio.h"

#define VIRTIO_ID_BLOCK 2
#define BLK_QUEUE_MAX 256
#define BLK_SECTOR 512ULL

/* 5.2.3 feature bits */
#define VIRTIO_BLK_F_SEG_MAX (1ULL << 2)
#define VIRTIO_BLK_F_RO (1ULL << 5)
#define VIRTIO_BLK_F_BLK_SIZE (1ULL << 6)
#define VIRTIO_BLK_F_FLUSH (1ULL << 9)
#define VIRTIO_BLK_F_DISCARD (1ULL << 13)
#define VIRTIO_BLK_F_WRITE_ZEROES (1ULL << 14)

/* 5.2.6 request types and status */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_ID_BYTES 20
#define BLK_MAX_DISCARD_SECTORS 0x3fffffu

struct virtio_blk {
	int fd;
	bool ro;
	uint32_t sector_size;
	uint64_t sectors;
	char serial[VIRTIO_BLK_ID_BYTES + 1];
	uint8_t config[0x3c];
	struct iovec iov[VIRTQ_MAX_SIZE];
};

/* ---- configuration (5.2.4) ---- */

static void blk_put(uint8_t *p, uint64_t v, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void virtio_blk_build_config(struct virtio_blk *b)
{
	memset(b->config, 0, sizeof(b->config));
	blk_put(b->config + 0x00, b->sectors, 8);
	blk_put(b->config + 0x0c, BLK_QUEUE_MAX - 2, 4); /* seg_max: header + status take two */
	blk_put(b->config + 0x14, b->sector_size, 4);
	blk_put(b->config + 0x24, BLK_MAX_DISCARD_SECTORS, 4);
	blk_put(b->config + 0x28, 1, 4);
	blk_put(b->config + 0x2c, b->sector_size / BLK_SECTOR, 4);
	blk_put(b->config + 0x30, BLK_MAX_DISCARD_SECTORS, 4);
	blk_put(b->config + 0x34, 1, 4);
	b->config[0x38] = 1; /* write_zeroes_may_unmap */
}

static void virtio_blk_config_read(struct virtio_dev *vd, unsigned off, uint8_t *data, unsigned len)
{
	struct virtio_blk *b = vd->priv;

	if (off < sizeof(b->config))
		memcpy(data, b->config + off, len > sizeof(b->config) - off ? sizeof(b->config) - off : len);
}

/* ---- requests ---- */

/* iovecs for `len` bytes of the request's out (in=false) or in part,
 * starting `skip` bytes in. */
static int blk_iov(struct virtio_blk *b, const struct virtq_req *req, bool in, uint64_t skip, uint64_t len)
{
	unsigned first = in ? req->nr_out : 0, end = in ? req->nr_out + req->nr_in : req->nr_out;
	int n = 0;

	for (unsigned i = first; i < end && len; i++) {
		uint64_t l = req->seg[i].len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		b->iov[n++] = (struct iovec){ req->seg[i].host + skip, l };
		len -= l;
		skip = 0;
	}
	return n;
}

static bool blk_range_ok(const struct virtio_blk *b, uint64_t sector, uint64_t bytes)
{
	return sector <= b->sectors && bytes <= (b->sectors - sector) * BLK_SECTOR;
}

/* Transfers all `len` bytes or fails (a short read past EOF is an error:
 * the capacity was read from the file's size). */
static bool blk_rw(struct virtio_blk *b, const struct virtq_req *req, bool write, uint64_t pos, uint64_t len)
{
	int n = blk_iov(b, req, !write, write ? 16 : 0, len);
	struct iovec *iov = b->iov;

	while (len) {
		ssize_t r = write ? pwritev(b->fd, iov, n, (off_t)pos) : preadv(b->fd, iov, n, (off_t)pos);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		len -= (uint64_t)r;
		pos += (uint64_t)r;
		while (n && (uint64_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n && r) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return true;
}

static uint8_t blk_discard(struct virtio_blk *b, const struct virtq_req *req, bool zeroes)
{
	struct {
		uint64_t sector;
		uint32_t num_sectors, flags;
	} seg;
	uint64_t off, len;

	if (b->ro)
		return VIRTIO_BLK_S_IOERR;
	/* max_discard_seg = max_write_zeroes_seg = 1 */
	if (req->out_len != 16 + sizeof(seg) || virtq_req_read(req, 16, &seg, sizeof(seg)) != sizeof(seg))
		return VIRTIO_BLK_S_UNSUPP;
	if ((seg.flags & ~1u) || seg.num_sectors > BLK_MAX_DISCARD_SECTORS ||
	    !blk_range_ok(b, seg.sector, (uint64_t)seg.num_sectors * BLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	off = seg.sector * BLK_SECTOR;
	len = (uint64_t)seg.num_sectors * BLK_SECTOR;
	if (!len)
		return VIRTIO_BLK_S_OK;
	if (fallocate(b->fd, zeroes ? FALLOC_FL_ZERO_RANGE : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == 0)
		return VIRTIO_BLK_S_OK;
	if (!zeroes)
		return VIRTIO_BLK_S_OK; /* discard is a hint (5.2.6.2) */
	{
		static const uint8_t zero[4096];

		while (len) {
			size_t n = len < sizeof(zero) ? (size_t)len : sizeof(zero);
			ssize_t w = pwrite(b->fd, zero, n, (off_t)off);

			if (w <= 0)
				return VIRTIO_BLK_S_IOERR;
			off += (uint64_t)w;
			len -= (uint64_t)w;
		}
	}
	return VIRTIO_BLK_S_OK;
}

/* Returns the bytes written into the request's in part (status included). */
static uint32_t virtio_blk_request(struct virtio_blk *b, const struct virtq_req *req)
{
	struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr;
	uint64_t data_in, data_out;
	uint32_t written = 1;
	uint8_t status = VIRTIO_BLK_S_OK;

	/* 5.2.6: header first (readable), status byte last (writable). */
	if (req->in_len < 1 || virtq_req_read(req, 0, &hdr, sizeof(hdr)) != sizeof(hdr))
		return 0;
	data_in = req->in_len - 1;
	data_out = req->out_len - sizeof(hdr);
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		if (data_in % BLK_SECTOR || !blk_range_ok(b, hdr.sector, data_in))
			status = VIRTIO_BLK_S_IOERR;
		else if (!blk_rw(b, req, false, hdr.sector * BLK_SECTOR, data_in))
			status = VIRTIO_BLK_S_IOERR;
		else
			written += (uint32_t)data_in;
		break;
	case VIRTIO_BLK_T_OUT:
		if (b->ro || data_out % BLK_SECTOR || !blk_range_ok(b, hdr.sector, data_out) ||
		    !blk_rw(b, req, true, hdr.sector * BLK_SECTOR, data_out))
			status = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_FLUSH:
		if (fdatasync(b->fd) < 0)
			status = VIRTIO_BLK_S_IOERR;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		uint64_t n = data_in < VIRTIO_BLK_ID_BYTES ? data_in : VIRTIO_BLK_ID_BYTES;

		written += (uint32_t)virtq_req_write(req, 0, b->serial, n);
		break;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		status = blk_discard(b, req, hdr.type == VIRTIO_BLK_T_WRITE_ZEROES);
		break;
	default:
		status = VIRTIO_BLK_S_UNSUPP;
	}
	virtq_req_write(req, req->in_len - 1, &status, 1);
	return written;
}

static void virtio_blk_queue(struct virtio_dev *vd, unsigned q)
{
	struct virtio_blk *b = vd->priv;
	struct virtq_req *req = &vd->req;
	bool done = false;

	while (virtio_queue_pop(vd, q, req) > 0) {
		uint32_t written = virtio_blk_request(b, req);

		if (!written) {
			virtio_needs_reset(vd, "request without header or status byte");
			return;
		}
		virtio_queue_push(vd, q, req->head, written);
		done = true;
	}
	if (done)
		virtio_queue_interrupt(vd, q);
}

static int virtio_blk_quiesce(struct virtio_dev *vd, struct hyve_err *err)
{
	struct virtio_blk *b = vd->priv;

	if (!b->ro && fdatasync(b->fd) < 0)
		return err_set(err, errno, "flushing the disk: %s", strerror(errno));
	return 0;
}

static void virtio_blk_destroy(struct virtio_dev *vd)
{
	struct virtio_blk *b = vd->priv;

	if (b && b->fd >= 0)
		close(b->fd);
}

/* ---- creation ---- */

static int virtio_blk_open(struct virtio_blk *b, const char *opts, struct hyve_err *err)
{
	char buf[256], *save = NULL, *path, *tok;
	struct stat st;
	uint64_t size;
	uint32_t hash = 2166136261u;

	snprintf(buf, sizeof(buf), "%s", opts);
	path = strtok_r(buf, ",", &save);
	if (!path || !path[0])
		return err_set(err, EINVAL, "virtio-blk needs a disk: virtio-blk,PATH[,ro][,sectorsize=N]");
	b->sector_size = 512;
	while ((tok = strtok_r(NULL, ",", &save)) != NULL) {
		if (strcmp(tok, "ro") == 0) {
			b->ro = true;
		} else if (strncmp(tok, "sectorsize=", 11) == 0) {
			char *end;
			unsigned long n = strtoul(tok + 11, &end, 10);

			if (*end || n < 512 || n > 4096 || (n & (n - 1)))
				return err_set(err, EINVAL, "sectorsize=%s: must be 512, 1024, 2048 or 4096",
					       tok + 11);
			b->sector_size = (uint32_t)n;
		} else {
			return err_set(err, EINVAL, "virtio-blk: unknown option '%s'", tok);
		}
	}
	b->fd = open(path, (b->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0)
		return err_set(err, errno, "disk %s: %s", path, strerror(errno));
	if (fstat(b->fd, &st) < 0)
		return err_set(err, errno, "disk %s: %s", path, strerror(errno));
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &size) < 0)
			return err_set(err, errno, "disk %s: BLKGETSIZE64: %s", path, strerror(errno));
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		return err_set(err, EINVAL, "disk %s is neither a file nor a block device", path);
	}
	if (size % b->sector_size || size == 0)
		return err_set(err, EINVAL, "disk %s: size %" PRIu64 " is not a positive multiple of %u bytes",
			       path, size, b->sector_size);
	b->sectors = size / BLK_SECTOR;
	/* The serial names the disk by its path: stable across restores. */
	for (const char *p = path; *p; p++)
		hash = (hash ^ (uint8_t)*p) * 16777619u;
	snprintf(b->serial, sizeof(b->serial), "HYVE-%08X", hash);
	virtio_blk_build_config(b);
	return 0;
}

static const struct virtio_dev_ops virtio_blk_ops_rw = {
	.device_id = VIRTIO_ID_BLOCK,
	.class_code = 0x018000,
	.nr_queues = 1,
	.queue_max = BLK_QUEUE_MAX,
	.features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_DISCARD |
		    VIRTIO_BLK_F_WRITE_ZEROES,
	.config_size = 0x3c,
	.config_read = virtio_blk_config_read,
	.queue_notify = virtio_blk_queue,
	.quiesce = virtio_blk_quiesce,
	.destroy = virtio_blk_destroy,
};

static const struct virtio_dev_ops virtio_blk_ops_ro = {
	.device_id = VIRTIO_ID_BLOCK,
	.class_code = 0x018000,
	.nr_queues = 1,
	.queue_max = BLK_QUEUE_MAX,
	.features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_RO,
	.config_size = 0x3c,
	.config_read = virtio_blk_config_read,
	.queue_notify = virtio_blk_queue,
	.quiesce = virtio_blk_quiesce,
	.destroy = virtio_blk_destroy,
};

static const struct state_desc virtio_blk_desc =
	STATE_DESC("virtio-blk", struct virtio_pci_state, 1, virtio_pci_state_fields);

static int virtio_blk_create(struct machine *m, struct device *dev, const struct dev_opts *opts,
			     struct hyve_err *err)
{
	struct virtio_dev *vd = calloc(1, sizeof(*vd));
	struct virtio_blk *b = calloc(1, sizeof(*b));
	const char *rest;
	unsigned slot, func;
	int ret;

	(void)m;
	(void)opts;
	if (!vd || !b) {
		free(vd);
		free(b);
		return err_set(err, ENOMEM, "virtio-blk: out of memory");
	}
	b->fd = -1;
	/* The options decide the feature set, so they are read first. */
	ret = pci_parse_location(dev->conf[0] ? dev->conf : NULL, &slot, &func, &rest, err);
	if (!ret)
		ret = strncmp(rest, "virtio-blk", 10) == 0 && (rest[10] == ',' || !rest[10])
			      ? virtio_blk_open(b, rest[10] ? rest + 11 : "", err)
			      : err_set(err, EINVAL, "'%s' does not describe a virtio-blk", dev->conf);
	if (!ret)
		ret = virtio_dev_create(vd, dev, b->ro ? &virtio_blk_ops_ro : &virtio_blk_ops_rw, b, &rest, err);
	if (ret) {
		if (b->fd >= 0)
			close(b->fd);
		free(b);
		free(vd);
		return ret;
	}
	dev->priv = vd;
	return 0;
}

/* A snapshot's disk device is rebuilt from its conf string, so ro and the
 * feature set are those of the same options; the state check needs only
 * the shape both variants share. */
static int virtio_blk_check(const void *staged, struct hyve_err *err)
{
	return virtio_state_check(staged, &virtio_blk_ops_rw, err);
}

static const struct device_type virtio_blk_type = {
	.name = "virtio-blk",
	.create = virtio_blk_create,
	.destroy = virtio_type_destroy,
	.reset = virtio_type_reset,
	.state = &virtio_blk_desc,
	.save = virtio_type_save,
	.check = virtio_blk_check,
	.load = virtio_type_load,
	.quiesce = virtio_type_quiesce,
	.post_load = virtio_type_post_load,
	.resume = virtio_type_resume,
};
DEVICE_TYPE_REGISTER(virtio_blk_type);

/* Split virtqueues (virtio 1.2, 2.7), walked in guest RAM that the guest
 * may change under our feet: each descriptor is copied once and only the
 * copy is checked and used; ring indices are read with acquire ordering
 * and the used index published with release ordering (2.7.13, 2.7.8). */
#include <string.h>

#include "hyve/virtio.h"

#define VIRTQ_DESC_SIZE 16

static const struct state_field virtq_fields[] = {
	FIELD_U16(struct virtq_state, size, 1),
	FIELD_BOOL(struct virtq_state, enabled, 1),
	FIELD_U16(struct virtq_state, msix_vector, 1),
	FIELD_U64(struct virtq_state, desc_addr, 1),
	FIELD_U64(struct virtq_state, driver_addr, 1),
	FIELD_U64(struct virtq_state, device_addr, 1),
	FIELD_U16(struct virtq_state, last_avail_idx, 1),
	FIELD_U16(struct virtq_state, used_idx, 1),
	FIELD_END
};
const struct state_desc virtq_state_desc = STATE_DESC("virtq", struct virtq_state, 1, virtq_fields);

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

int virtq_check(const struct guest_mem *gm, const struct virtq_state *q, uint16_t max, const char **why)
{
	uint64_t n = q->size;

	if (n == 0 || n > max || (n & (n - 1)))
		*why = "queue size is not a power of two within the device's maximum";
	else if (q->desc_addr % 16 || q->driver_addr % 2 || q->device_addr % 4)
		*why = "a ring is misaligned";
	else if (!guest_ptr(gm, q->desc_addr, n * VIRTQ_DESC_SIZE))
		*why = "the descriptor table is outside guest RAM";
	else if (!guest_ptr(gm, q->driver_addr, 6 + 2 * n))
		*why = "the available ring is outside guest RAM";
	else if (!guest_ptr(gm, q->device_addr, 6 + 8 * n))
		*why = "the used ring is outside guest RAM";
	else
		return 0;
	return -EINVAL;
}

static uint16_t virtq_load16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)(const void *)p, __ATOMIC_ACQUIRE);
}

static int virtq_fail(const char **why, const char *msg)
{
	*why = msg;
	return -EINVAL;
}

int virtq_pop(const struct guest_mem *gm, struct virtq_state *q, struct virtq_req *req, const char **why)
{
	const uint8_t *avail, *table;
	uint16_t avail_idx, head, idx;
	unsigned nr = 0;
	bool writable = false;

	if (virtq_check(gm, q, VIRTQ_MAX_SIZE, why))
		return -EINVAL;
	avail = guest_ptr(gm, q->driver_addr, 6 + 2ULL * q->size);
	table = guest_ptr(gm, q->desc_addr, (uint64_t)q->size * VIRTQ_DESC_SIZE);
	avail_idx = virtq_load16(avail + 2);
	if (avail_idx == q->last_avail_idx)
		return 0;
	/* 2.7.6: the driver never gets more than a queue's worth ahead. */
	if ((uint16_t)(avail_idx - q->last_avail_idx) > q->size)
		return virtq_fail(why, "available index ran more than a queue ahead");
	memcpy(&head, avail + 4 + 2 * (q->last_avail_idx % q->size), 2);
	if (head >= q->size)
		return virtq_fail(why, "available ring names a descriptor past the queue size");
	memset(req, 0, offsetof(struct virtq_req, seg));
	req->head = head;
	idx = head;
	for (;;) {
		struct virtq_desc d;
		uint8_t *host;

		/* Each descriptor at most once: a longer chain loops. */
		if (nr++ == q->size)
			return virtq_fail(why, "descriptor chain is longer than the queue (a loop)");
		memcpy(&d, table + (uint64_t)idx * VIRTQ_DESC_SIZE, sizeof(d));
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return virtq_fail(why, "indirect descriptor (feature not offered)");
		if (d.flags & VIRTQ_DESC_F_WRITE)
			writable = true;
		else if (writable)
			return virtq_fail(why, "device-readable descriptor after a writable one");
		if (d.len) {
			host = guest_ptr(gm, d.addr, d.len);
			if (!host)
				return virtq_fail(why, "descriptor buffer is outside guest RAM");
			req->seg[req->nr_out + req->nr_in] = (struct virtq_seg){ host, d.len };
			if (writable) {
				req->nr_in++;
				req->in_len += d.len;
			} else {
				req->nr_out++;
				req->out_len += d.len;
			}
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= q->size)
			return virtq_fail(why, "descriptor's next index is past the queue size");
		idx = d.next;
	}
	q->last_avail_idx++;
	return 1;
}

bool virtq_has_avail(const struct guest_mem *gm, const struct virtq_state *q)
{
	const char *why;
	const uint8_t *avail;

	if (virtq_check(gm, q, VIRTQ_MAX_SIZE, &why))
		return false;
	avail = guest_ptr(gm, q->driver_addr, 6 + 2ULL * q->size);
	return virtq_load16(avail + 2) != q->last_avail_idx;
}

void virtq_unpop(struct virtq_state *q)
{
	q->last_avail_idx--;
}

int virtq_push(const struct guest_mem *gm, struct virtq_state *q, uint16_t head, uint32_t len)
{
	uint8_t *used = q->size ? guest_ptr(gm, q->device_addr, 6 + 8ULL * q->size) : NULL;
	uint32_t elem[2] = { head, len };

	if (!used)
		return -EFAULT;
	memcpy(used + 4 + 8 * (q->used_idx % q->size), elem, sizeof(elem));
	q->used_idx++;
	/* The element is visible before the index that publishes it. */
	__atomic_store_n((uint16_t *)(void *)(used + 2), q->used_idx, __ATOMIC_RELEASE);
	return 0;
}

bool virtq_wants_interrupt(const struct guest_mem *gm, const struct virtq_state *q)
{
	const uint8_t *avail = q->size ? guest_ptr(gm, q->driver_addr, 6 + 2ULL * q->size) : NULL;

	/* Full barrier: our used-index store must not pass this flags load
	 * (2.7.10), or a driver re-enabling interrupts could miss one. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return !avail || !(virtq_load16(avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

static uint64_t virtq_req_copy(const struct virtq_req *req, bool in, uint64_t offset, uint8_t *buf,
			       const uint8_t *src, uint64_t len)
{
	unsigned first = in ? req->nr_out : 0, end = in ? req->nr_out + req->nr_in : req->nr_out;
	uint64_t done = 0;

	for (unsigned i = first; i < end && done < len; i++) {
		const struct virtq_seg *s = &req->seg[i];
		uint64_t n;

		if (offset >= s->len) {
			offset -= s->len;
			continue;
		}
		n = s->len - offset;
		if (n > len - done)
			n = len - done;
		if (in)
			memcpy(s->host + offset, src + done, n);
		else
			memcpy(buf + done, s->host + offset, n);
		done += n;
		offset = 0;
	}
	return done;
}

uint64_t virtq_req_read(const struct virtq_req *req, uint64_t offset, void *buf, uint64_t len)
{
	return virtq_req_copy(req, false, offset, buf, NULL, len);
}

uint64_t virtq_req_write(const struct virtq_req *req, uint64_t offset, const void *buf, uint64_t len)
{
	return virtq_req_copy(req, true, offset, NULL, buf, len);
}

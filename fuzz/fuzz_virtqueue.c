/* libFuzzer target: the split-virtqueue walker (src/dev/virtqueue.c) over
 * random guest memory and random queue state, as a hostile driver would
 * leave them.  Guest RAM is two 32 KiB ranges (at 0 and at 4 GiB) in one
 * exactly-sized heap buffer, so ASan reports any access the walker makes
 * outside guest RAM.
 *
 * Input: 40 bytes of queue state, then the RAM image.
 *   u16 size, u16 last_avail_idx, u16 used_idx, u16 pops,
 *   u64 desc, u64 avail, u64 used (each: an offset into RAM unless its top
 *   byte is 0xff, then taken raw), u64 spare. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hyve/virtio.h"

#define FUZZ_RANGE 0x8000u
#define FUZZ_HIGH 0x100000000ULL

static uint64_t fuzz_addr(uint64_t raw)
{
	if ((raw >> 56) == 0xff)
		return raw;
	return (raw & (FUZZ_RANGE - 1)) + ((raw & FUZZ_RANGE) ? FUZZ_HIGH : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_req req;
	struct guest_mem gm = { .fd = -1, .size = 2 * FUZZ_RANGE, .nr_ranges = 2 };
	struct virtq_state q = { .enabled = true, .msix_vector = VIRTIO_NO_VECTOR };
	uint16_t hdr[4];
	uint64_t addr[4];
	uint8_t *ram;
	const char *why;

	if (size < 40)
		return 0;
	memcpy(hdr, data, 8);
	memcpy(addr, data + 8, 32);
	ram = calloc(1, 2 * FUZZ_RANGE);
	if (!ram)
		return 0;
	memcpy(ram, data + 40, size - 40 < 2 * FUZZ_RANGE ? size - 40 : 2 * FUZZ_RANGE);
	gm.host = ram;
	gm.ranges[0] = (struct mem_range){ 0, FUZZ_RANGE, 0 };
	gm.ranges[1] = (struct mem_range){ FUZZ_HIGH, FUZZ_RANGE, FUZZ_RANGE };
	q.size = hdr[0];
	q.last_avail_idx = hdr[1];
	q.used_idx = hdr[2];
	q.desc_addr = fuzz_addr(addr[0]);
	q.driver_addr = fuzz_addr(addr[1]);
	q.device_addr = fuzz_addr(addr[2]);

	for (unsigned n = 0; n < (hdr[3] & 0x1ff) + 1u; n++) {
		uint8_t tmp[64];
		uint64_t total = 0;
		int ret;

		why = NULL;
		ret = virtq_pop(&gm, &q, &req, &why);
		if (ret < 0 && !why)
			abort(); /* a refusal always says why */
		if (ret <= 0)
			break;
		if (req.nr_out + req.nr_in > q.size)
			abort();
		/* Every segment must be guest RAM: touch both ends of each. */
		for (unsigned i = 0; i < req.nr_out + req.nr_in; i++) {
			volatile uint8_t x = req.seg[i].host[0];

			x ^= req.seg[i].host[req.seg[i].len - 1];
			(void)x;
			total += req.seg[i].len;
		}
		if (total != req.out_len + req.in_len)
			abort();
		virtq_req_read(&req, addr[3] & 0xff, tmp, sizeof(tmp));
		virtq_req_write(&req, addr[3] >> 8 & 0xff, tmp, sizeof(tmp));
		if (virtq_push(&gm, &q, req.head, (uint32_t)req.in_len) != 0)
			abort(); /* checked rings cannot fail to push */
		virtq_wants_interrupt(&gm, &q);
	}
	free(ram);
	return 0;
}

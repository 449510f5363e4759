/* The split-virtqueue walker (src/dev/virtqueue.c) on a hand-built guest
 * RAM: what it accepts, and every way a driver can break the rules being
 * refused without consuming anything or touching memory outside RAM. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hyve/virtio.h"

#define RAM (1u << 20)
#define QS 8
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x10000

static struct guest_mem gm;
static struct virtq_state q;
static struct virtq_req req;

static void setup(void)
{
	static uint8_t *ram;

	if (!ram)
		ram = aligned_alloc(4096, RAM);
	memset(ram, 0, RAM);
	guest_mem_layout(&gm, 16 << 20, NULL);
	/* Only the first MiB is backed: shrink the layout to it. */
	gm.ranges[0].size = RAM;
	gm.size = RAM;
	gm.host = ram;
	q = (struct virtq_state){ .size = QS, .enabled = true, .msix_vector = VIRTIO_NO_VECTOR,
				  .desc_addr = DESC, .driver_addr = AVAIL, .device_addr = USED };
}

static void desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *p = gm.host + DESC + 16 * i;

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* Makes `head` available as the next entry. */
static void offer(uint16_t head)
{
	uint16_t idx;

	memcpy(&idx, gm.host + AVAIL + 2, 2);
	memcpy(gm.host + AVAIL + 4 + 2 * (idx % QS), &head, 2);
	idx++;
	memcpy(gm.host + AVAIL + 2, &idx, 2);
}

static void set_avail_idx(uint16_t idx)
{
	memcpy(gm.host + AVAIL + 2, &idx, 2);
}

/* A refusal: -EINVAL, a reason, nothing consumed. */
static void expect_refused(const char *reason_part)
{
	const char *why = NULL;
	uint16_t before = q.last_avail_idx;

	CHECK_EQ(virtq_pop(&gm, &q, &req, &why), (unsigned long long)-EINVAL);
	CHECK(why != NULL && strstr(why, reason_part) != NULL);
	CHECK_EQ(q.last_avail_idx, before);
}

static void test_virtq_accepts_readable_then_writable_chain(void)
{
	const char *why = NULL;
	uint16_t used_idx;
	uint32_t elem[2];
	uint8_t out[12];

	setup();
	memcpy(gm.host + BUF, "0123456789ab", 12);
	desc(3, BUF, 4, VIRTQ_DESC_F_NEXT, 5);
	desc(5, BUF + 4, 8, VIRTQ_DESC_F_NEXT, 0);
	desc(0, BUF + 0x100, 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF + 0x200, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(3);
	CHECK_EQ(virtq_pop(&gm, &q, &req, &why), 1);
	CHECK_EQ(req.head, 3);
	CHECK_EQ(req.nr_out, 2);
	CHECK_EQ(req.nr_in, 2);
	CHECK_EQ(req.out_len, 12);
	CHECK_EQ(req.in_len, 17);
	CHECK(req.seg[0].host == gm.host + BUF);
	CHECK_EQ(virtq_req_read(&req, 0, out, sizeof(out)), 12);
	CHECK(memcmp(out, "0123456789ab", 12) == 0);
	CHECK_EQ(virtq_req_read(&req, 10, out, 8), 2); /* short at the end */
	CHECK_EQ(virtq_req_write(&req, 14, "xyz", 3), 3); /* spans both writable segments */
	CHECK(memcmp(gm.host + BUF + 0x100 + 14, "xy", 2) == 0);
	CHECK_EQ(gm.host[BUF + 0x200], 'z');
	CHECK_EQ(q.last_avail_idx, 1);
	CHECK_EQ(virtq_pop(&gm, &q, &req, &why), 0); /* nothing more */
	CHECK_EQ(virtq_push(&gm, &q, 3, 17), 0);
	memcpy(&used_idx, gm.host + USED + 2, 2);
	memcpy(elem, gm.host + USED + 4, 8);
	CHECK_EQ(used_idx, 1);
	CHECK_EQ(elem[0], 3);
	CHECK_EQ(elem[1], 17);
}

static void test_virtq_index_wraps_around_65536(void)
{
	const char *why = NULL;

	setup();
	q.last_avail_idx = 0xffff;
	q.used_idx = 0xffff;
	desc(2, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	memcpy(gm.host + AVAIL + 4 + 2 * (0xffff % QS), &(uint16_t){ 2 }, 2);
	set_avail_idx(0);
	CHECK_EQ(virtq_pop(&gm, &q, &req, &why), 1);
	CHECK_EQ(req.head, 2);
	CHECK_EQ(q.last_avail_idx, 0);
}

static void test_virtq_refuses_loops(void)
{
	setup();
	desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, 0); /* itself */
	offer(0);
	expect_refused("loop");
	setup();
	desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 8, VIRTQ_DESC_F_NEXT, 2);
	desc(2, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(0);
	expect_refused("loop");
	/* A chain using every descriptor once is fine. */
	setup();
	for (unsigned i = 0; i < QS; i++)
		desc(i, BUF, 8, i + 1 < QS ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(0);
	{
		const char *why = NULL;

		CHECK_EQ(virtq_pop(&gm, &q, &req, &why), 1);
		CHECK_EQ(req.nr_out, QS);
	}
}

static void test_virtq_refuses_indices_past_queue_size(void)
{
	setup();
	offer(QS); /* head out of range */
	expect_refused("past the queue size");
	setup();
	desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, QS);
	offer(0);
	expect_refused("next index is past the queue size");
	setup();
	set_avail_idx(QS + 1); /* more than a queue ahead */
	expect_refused("more than a queue ahead");
}

static void test_virtq_refuses_buffers_outside_ram(void)
{
	setup();
	desc(0, RAM - 4, 8, 0, 0); /* straddles the end of RAM */
	offer(0);
	expect_refused("outside guest RAM");
	setup();
	desc(0, UINT64_MAX - 3, 16, 0, 0); /* wraps around */
	offer(0);
	expect_refused("outside guest RAM");
	setup();
	desc(0, 0xC0000000ULL, 4, VIRTQ_DESC_F_WRITE, 0); /* MMIO hole */
	offer(0);
	expect_refused("outside guest RAM");
}

static void test_virtq_refuses_indirect_and_misordered(void)
{
	setup();
	desc(0, BUF, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
	expect_refused("indirect");
	setup();
	desc(0, BUF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	desc(1, BUF, 8, 0, 0);
	offer(0);
	expect_refused("readable descriptor after a writable");
}

static void test_virtq_refuses_bad_ring_layout(void)
{
	const char *why = NULL;

	setup();
	q.size = 6;
	CHECK_EQ(virtq_check(&gm, &q, 256, &why), (unsigned long long)-EINVAL);
	CHECK(strstr(why, "power of two") != NULL);
	setup();
	q.size = 512;
	CHECK_EQ(virtq_check(&gm, &q, 256, &why), (unsigned long long)-EINVAL);
	setup();
	q.desc_addr = DESC + 8;
	CHECK_EQ(virtq_check(&gm, &q, 256, &why), (unsigned long long)-EINVAL);
	CHECK(strstr(why, "misaligned") != NULL);
	setup();
	q.device_addr = RAM - 8; /* used ring past the end of RAM */
	CHECK_EQ(virtq_check(&gm, &q, 256, &why), (unsigned long long)-EINVAL);
	CHECK(strstr(why, "used ring") != NULL);
	setup();
	q.driver_addr = UINT64_MAX - 1;
	expect_refused("available ring");
	setup();
	CHECK_EQ(virtq_check(&gm, &q, 256, &why), 0);
	q.size = 0;
	CHECK_EQ(virtq_push(&gm, &q, 0, 0), (unsigned long long)-EFAULT);
}

static void test_virtq_zero_length_descriptor_is_skipped(void)
{
	const char *why = NULL;

	setup();
	desc(0, RAM, 0, VIRTQ_DESC_F_NEXT, 1); /* empty, at the very end */
	desc(1, BUF, 4, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	CHECK_EQ(virtq_pop(&gm, &q, &req, &why), 1);
	CHECK_EQ(req.nr_out, 0);
	CHECK_EQ(req.nr_in, 1);
}

static void test_virtq_honours_no_interrupt_flag(void)
{
	setup();
	CHECK(virtq_wants_interrupt(&gm, &q));
	memcpy(gm.host + AVAIL, &(uint16_t){ VIRTQ_AVAIL_F_NO_INTERRUPT }, 2);
	CHECK(!virtq_wants_interrupt(&gm, &q));
}

int main(void)
{
	RUN_TEST(test_virtq_accepts_readable_then_writable_chain);
	RUN_TEST(test_virtq_index_wraps_around_65536);
	RUN_TEST(test_virtq_refuses_loops);
	RUN_TEST(test_virtq_refuses_indices_past_queue_size);
	RUN_TEST(test_virtq_refuses_buffers_outside_ram);
	RUN_TEST(test_virtq_refuses_indirect_and_misordered);
	RUN_TEST(test_virtq_refuses_bad_ring_layout);
	RUN_TEST(test_virtq_zero_length_descriptor_is_skipped);
	RUN_TEST(test_virtq_honours_no_interrupt_flag);
	return CHECK_DONE();
}

/* The I/O bus and guest-memory bounds: dispatch, overlap refusal, clipping,
 * and guest_ptr never reaching outside RAM. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "hyve/bus.h"
#include "hyve/mem.h"

struct probe {
	uint64_t offset;
	unsigned len, calls;
	bool write;
	uint8_t last[8];
};

static void probe_handler(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct probe *p = opaque;

	p->offset = offset;
	p->len = len;
	p->write = is_write;
	p->calls++;
	if (is_write)
		memcpy(p->last, data, len);
	else
		memset(data, 0x5a, len);
}

static void bus_dispatches_to_the_owning_range(void)
{
	struct bus bus;
	struct probe a = { 0 }, b = { 0 };
	uint8_t data[8] = { 1, 2, 3, 4 };

	bus_init(&bus, "pio");
	CHECK_EQ(bus_register(&bus, 0x3f8, 8, probe_handler, &a, "com1", NULL), 0);
	CHECK_EQ(bus_register(&bus, 0x70, 2, probe_handler, &b, "rtc", NULL), 0);
	CHECK(bus_access(&bus, 0x3fb, data, 1, true));
	CHECK_EQ(a.calls, 1);
	CHECK_EQ(a.offset, 3);
	CHECK_EQ(a.last[0], 1);
	CHECK(bus_access(&bus, 0x71, data, 1, false));
	CHECK_EQ(b.calls, 1);
	CHECK_EQ(data[0], 0x5a);
}

static void bus_refuses_overlaps_and_reads_ones_when_unclaimed(void)
{
	struct bus bus;
	struct probe a = { 0 };
	struct hyve_err err = { 0 };
	uint8_t data[4];

	bus_init(&bus, "pio");
	CHECK_EQ(bus_register(&bus, 0x60, 1, probe_handler, &a, "kbd", NULL), 0);
	CHECK_EQ(bus_register(&bus, 0x5f, 2, probe_handler, &a, "other", &err), -EEXIST);
	CHECK(strstr(err.msg, "kbd") != NULL);
	CHECK_EQ(bus_register(&bus, UINT64_MAX, 2, probe_handler, &a, "wrap", NULL), -EINVAL);
	CHECK_EQ(bus_register(&bus, 0, 0, probe_handler, &a, "empty", NULL), -EINVAL);
	CHECK(!bus_access(&bus, 0x1234, data, 4, false));
	CHECK_EQ(data[0] & data[1] & data[2] & data[3], 0xff);
}

static void bus_clips_accesses_past_a_range_end(void)
{
	struct bus bus;
	struct probe a = { 0 };
	uint8_t data[8] = { 0 };

	bus_init(&bus, "mmio");
	CHECK_EQ(bus_register(&bus, 0x1000, 4, probe_handler, &a, "dev", NULL), 0);
	CHECK(bus_access(&bus, 0x1002, data, 8, false));
	CHECK_EQ(a.len, 2);
	CHECK_EQ(a.offset, 2);
}

static void guest_mem_layout_splits_around_the_hole(void)
{
	struct guest_mem gm;

	CHECK_EQ(guest_mem_layout(&gm, 256ULL << 20, NULL), 0);
	CHECK_EQ(gm.nr_ranges, 1);
	CHECK_EQ(guest_mem_layout(&gm, 8ULL << 30, NULL), 0);
	CHECK_EQ(gm.nr_ranges, 2);
	CHECK_EQ(gm.ranges[0].size, 3ULL << 30);
	CHECK_EQ(gm.ranges[1].gpa, 4ULL << 30);
	CHECK_EQ(gm.ranges[1].size, 5ULL << 30);
	CHECK_EQ(gm.ranges[1].offset, 3ULL << 30);
	CHECK(guest_mem_layout(&gm, 1ULL << 20, NULL) < 0);
	CHECK(guest_mem_layout(&gm, 65ULL << 30, NULL) < 0);
	CHECK(guest_mem_layout(&gm, (16ULL << 20) + 1, NULL) < 0);
}

static void guest_ptr_stays_inside_ram(void)
{
	struct guest_mem gm;

	CHECK_EQ(guest_mem_layout(&gm, 16ULL << 20, NULL), 0);
	gm.host = malloc(gm.size);
	CHECK(guest_ptr(&gm, 0, 16ULL << 20) == gm.host);
	CHECK(guest_ptr(&gm, (16ULL << 20) - 4, 4) != NULL);
	CHECK(guest_ptr(&gm, (16ULL << 20) - 4, 5) == NULL);
	CHECK(guest_ptr(&gm, 16ULL << 20, 1) == NULL);
	CHECK(guest_ptr(&gm, UINT64_MAX, 2) == NULL);
	CHECK(guest_ptr(&gm, 8, UINT64_MAX) == NULL);
	CHECK(guest_ptr(&gm, 0xFEE00000ULL, 4) == NULL);
	free(gm.host);
}

static void parse_size_accepts_suffixes_and_refuses_garbage(void)
{
	uint64_t v = 0;

	CHECK_EQ(parse_size("512M", &v, NULL), 0);
	CHECK_EQ(v, 512ULL << 20);
	CHECK_EQ(parse_size("4G", &v, NULL), 0);
	CHECK_EQ(v, 4ULL << 30);
	CHECK_EQ(parse_size("65536k", &v, NULL), 0);
	CHECK_EQ(v, 64ULL << 20);
	CHECK_EQ(parse_size("1GiB", &v, NULL), 0);
	CHECK(parse_size("", &v, NULL) < 0);
	CHECK(parse_size("-1G", &v, NULL) < 0);
	CHECK(parse_size("12Q", &v, NULL) < 0);
	CHECK(parse_size("99999999999999999999", &v, NULL) < 0);
	CHECK(parse_size("99999999999G", &v, NULL) < 0);
	CHECK(parse_size("1G2", &v, NULL) < 0);
}

int main(void)
{
	RUN_TEST(bus_dispatches_to_the_owning_range);
	RUN_TEST(bus_refuses_overlaps_and_reads_ones_when_unclaimed);
	RUN_TEST(bus_clips_accesses_past_a_range_end);
	RUN_TEST(guest_mem_layout_splits_around_the_hole);
	RUN_TEST(guest_ptr_stays_inside_ram);
	RUN_TEST(parse_size_accepts_suffixes_and_refuses_garbage);
	return CHECK_DONE();
}

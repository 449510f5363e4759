/* The loaders' placement map (src/boot/boot_map.c): what a kernel may
 * claim, and where hyve's boot data goes around it. */
#include <stdint.h>
#include <string.h>

#include "boot/boot_map.h"
#include "check.h"

static struct guest_mem gm;

static void map_for(struct boot_map *bm, uint64_t ram)
{
	struct hyve_err err = {0};

	CHECK_EQ(guest_mem_layout(&gm, ram, &err), 0);
	boot_map_init(bm, &gm);
}

static int claim_msg(struct boot_map *bm, uint64_t start, uint64_t size,
		     const char *want)
{
	struct hyve_err err = {0};
	int ret = boot_map_claim(bm, start, size, "kernel k: segment 1", &err);

	if (ret == 0 || !strstr(err.msg, want)) {
		printf("  got %d: %s\n", ret, err.msg);
		return 0;
	}
	return 1;
}

static void test_map_claims_anywhere_in_ram(void)
{
	struct hyve_err err = {0};
	struct boot_map bm;

	map_for(&bm, 4ULL << 30); /* RAM to 3 GiB, 1 GiB above 4 GiB */
	CHECK_EQ(boot_map_claim(&bm, 0, 0x1000, "seg", &err), 0);
	CHECK_EQ(boot_map_claim(&bm, 0x8000, 0x90000, "seg", &err), 0);
	CHECK_EQ(boot_map_claim(&bm, 0x100000, 0x1000, "seg", &err), 0);
	CHECK_EQ(boot_map_claim(&bm, 0xC0000000 - 0x1000, 0x1000, "seg", &err),
		 0);
	CHECK_EQ(boot_map_claim(&bm, 0x100000000ULL, 0x1000, "seg", &err), 0);
	/* Overlapping claims are the kernel's own business. */
	CHECK_EQ(boot_map_claim(&bm, 0x8800, 0x100, "seg", &err), 0);
	CHECK_EQ(boot_map_claim(&bm, 0x9000, 0, "empty", &err), 0);
	CHECK_EQ(err.code, 0);
}

static void test_map_refuses_what_is_not_ram_naming_both_ranges(void)
{
	struct boot_map bm;

	map_for(&bm, 4ULL << 30);
	CHECK(claim_msg(&bm, 0x9f000, 0x2000,
			"kernel k: segment 1 at 0x9f000-0xa0fff overlaps the "
			"BIOS area 0x9fc00-0xfffff"));
	CHECK(claim_msg(&bm, 0xF0000, 0x100, "overlaps the BIOS area"));
	CHECK(claim_msg(&bm, 0xBFF00000, 0x200000,
			"at 0xbff00000-0xc00fffff overlaps the PCI hole "
			"0xc0000000-0xffffffff"));
	CHECK(claim_msg(&bm, 0x140000000ULL - 0x1000, 0x2000,
			"at 0x13ffff000-0x140000fff extends past the end of "
			"guest RAM, which ends at 0x140000000"));
	CHECK(claim_msg(&bm, 0xfffffffffffff000ULL, 0x2000,
			"wraps around the address space"));
	map_for(&bm, 64ULL << 20);
	CHECK(claim_msg(&bm, 0x3fff000, 0x2000,
			"extends past the end of guest RAM, which ends at "
			"0x4000000 (give the guest more memory with -m)"));
}

static void test_map_alloc_low_avoids_claims_and_first_page(void)
{
	struct hyve_err err = {0};
	struct boot_map bm;
	uint64_t a, b, c;

	map_for(&bm, 64ULL << 20);
	CHECK_EQ(boot_map_claim(&bm, 0x1000, 0x7000, "seg", &err), 0);
	CHECK_EQ(boot_map_alloc_data(&bm, 100, 8, "info", &a, &err), 0);
	CHECK_EQ(a, 0x8000); /* right after the claim, never page 0 */
	CHECK_EQ(boot_map_alloc_data(&bm, 10, 1, "string", &b, &err), 0);
	CHECK_EQ(b, 0x8000 + 100);
	CHECK_EQ(boot_map_alloc_data(&bm, 0x1000, 0x1000, "page", &c, &err),
		 0);
	CHECK_EQ(c, 0x9000);
	CHECK_EQ(err.code, 0);
}

static void test_map_alloc_data_falls_back_above_1m(void)
{
	struct hyve_err err = {0};
	struct boot_map bm;
	uint64_t a;

	map_for(&bm, 64ULL << 20);
	/* A kernel filling conventional memory and the first MiB above. */
	CHECK_EQ(boot_map_claim(&bm, 0, 0x9fc00, "low", &err), 0);
	CHECK_EQ(boot_map_claim(&bm, 0x100000, 0x100000, "high", &err), 0);
	CHECK_EQ(boot_map_alloc_data(&bm, 0x1000, 0x1000, "tables", &a, &err),
		 0);
	CHECK_EQ(a, 0x200000);
}

static void test_map_alloc_high_top_down_under_ceiling(void)
{
	struct hyve_err err = {0};
	struct boot_map bm;
	uint64_t a, b;

	map_for(&bm, 64ULL << 20);
	CHECK_EQ(boot_map_alloc(&bm, 0x1800, 0x1000, 0x100000, 0x4000000,
				BOOT_FIT_HIGH, "initrd", &a, &err),
		 0);
	CHECK_EQ(a, 0x4000000 - 0x2000);
	/* The next one goes below the first. */
	CHECK_EQ(boot_map_alloc(&bm, 0x1000, 0x1000, 0x100000, 0x4000000,
				BOOT_FIT_HIGH, "second", &b, &err),
		 0);
	CHECK_EQ(b, a - 0x1000);
	/* A ceiling inside the BIOS area: only conventional memory fits. */
	CHECK_EQ(boot_map_alloc(&bm, 0x1000, 0x1000, 0, 0xF0000, BOOT_FIT_HIGH,
				"low", &a, &err),
		 0);
	CHECK_EQ(a, 0x9e000);
}

static void test_map_alloc_skips_claims_and_reports_no_room(void)
{
	struct hyve_err err = {0};
	struct boot_map bm;
	uint64_t a;

	map_for(&bm, 16ULL << 20);
	CHECK_EQ(boot_map_claim(&bm, 0x100000, 0x800000, "kernel", &err), 0);
	CHECK_EQ(boot_map_alloc(&bm, 0x300000, 0x1000, 0x100000,
				GUEST_HIGH_RAM_START, BOOT_FIT_LOW, "module",
				&a, &err),
		 0);
	CHECK_EQ(a, 0x900000);
	CHECK_EQ(boot_map_alloc(&bm, 0x500000, 0x1000, 0x100000,
				GUEST_HIGH_RAM_START, BOOT_FIT_LOW, "module m",
				&a, &err),
		 -ENOMEM);
	CHECK(strstr(err.msg, "module m: 5242880 bytes do not fit in guest "
			      "RAM between 0x100000 and 0x100000000") != NULL);
	/* High fits never wrap below the window either. */
	err.code = 0;
	err.msg[0] = 0;
	CHECK_EQ(boot_map_alloc(&bm, 0x400000, 0x1000, 0x100000, 0x1000000,
				BOOT_FIT_HIGH, "fits", &a, &err),
		 0);
	CHECK_EQ(a, 0xc00000);
	CHECK_EQ(boot_map_alloc(&bm, 0x1000, 0x1000, 0x100000, 0x1000000,
				BOOT_FIT_HIGH, "full", &a, &err),
		 -ENOMEM);
}

static void test_map_gdt_and_stack_placed_apart(void)
{
	struct hyve_err err = {0};
	struct boot_entry e;
	struct boot_map bm;

	map_for(&bm, 16ULL << 20);
	gm.host = calloc(1, 16ULL << 20);
	CHECK_EQ(boot_map_claim(&bm, 0x1000, 0x4000, "kernel", &err), 0);
	CHECK_EQ(boot_map_gdt_and_stack(&bm, &gm, &e, &err), 0);
	CHECK_EQ(e.gdt_base, 0x5000);
	CHECK(e.rsp - BOOT_STACK_SIZE >= e.gdt_base + BOOT_GDT_LIMIT + 1);
	CHECK_EQ(e.rsp % 16, 0);
	CHECK(memcmp(gm.host + e.gdt_base + BOOT_SEL_CODE32,
		     &(uint64_t){BOOT_GDT_DESC_CODE32}, 8) == 0);
	free(gm.host);
	gm.host = NULL;
}

int main(void)
{
	RUN_TEST(test_map_claims_anywhere_in_ram);
	RUN_TEST(test_map_refuses_what_is_not_ram_naming_both_ranges);
	RUN_TEST(test_map_alloc_low_avoids_claims_and_first_page);
	RUN_TEST(test_map_alloc_data_falls_back_above_1m);
	RUN_TEST(test_map_alloc_high_top_down_under_ceiling);
	RUN_TEST(test_map_alloc_skips_claims_and_reports_no_room);
	RUN_TEST(test_map_gdt_and_stack_placed_apart);
	return CHECK_DONE();
}

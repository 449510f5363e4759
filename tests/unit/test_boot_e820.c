/* The e820 map hyve reports and the boot GDT's descriptors. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hyve/boot.h"

static void layout(struct guest_mem *gm, uint64_t size)
{
	struct hyve_err err = {0};

	CHECK_EQ(guest_mem_layout(gm, size, &err), 0);
}

static void test_e820_small_guest_three_entries(void)
{
	struct e820_entry m[BOOT_E820_MAX];
	struct guest_mem gm;
	unsigned n;

	layout(&gm, 256ULL << 20);
	n = boot_e820(&gm, m, BOOT_E820_MAX);
	CHECK_EQ(n, 3);
	CHECK(m[0].addr == 0 && m[0].size == 0x9FC00 && m[0].type == E820_RAM);
	CHECK(m[1].addr == 0x9FC00 && m[1].size == 0x100000 - 0x9FC00 &&
	      m[1].type == E820_RESERVED);
	CHECK(m[2].addr == 0x100000 && m[2].size == (256ULL << 20) - 0x100000 &&
	      m[2].type == E820_RAM);
}

static void test_e820_large_guest_ram_above_4g(void)
{
	struct e820_entry m[BOOT_E820_MAX];
	struct guest_mem gm;
	uint64_t ram = 0;
	unsigned n;

	layout(&gm, 8ULL << 30);
	n = boot_e820(&gm, m, BOOT_E820_MAX);
	CHECK_EQ(n, 4);
	CHECK_EQ(m[2].addr + m[2].size,
		 GUEST_MMIO_HOLE_START); /* the hole is implied */
	CHECK_EQ(m[3].addr, GUEST_HIGH_RAM_START);
	CHECK_EQ(m[3].size, (8ULL << 30) - GUEST_MMIO_HOLE_START);
	for (unsigned i = 0; i < n; i++)
		if (m[i].type == E820_RAM)
			ram += m[i].size;
	/* All RAM but the 385 KiB hidden behind the BIOS area is reported. */
	CHECK_EQ(ram, (8ULL << 30) - (0x100000 - 0x9FC00));
}

static void test_e820_respects_max(void)
{
	struct e820_entry m[2];
	struct guest_mem gm;

	layout(&gm, 8ULL << 30);
	CHECK_EQ(boot_e820(&gm, m, 2), 2);
	CHECK_EQ(boot_e820(&gm, m, 0), 0);
}

static void test_gdt_flat_descriptors_match_selectors(void)
{
	struct hyve_err err = {0};
	struct guest_mem gm;
	uint64_t d[BOOT_GDT_ENTRIES];

	layout(&gm, 16ULL << 20);
	gm.host = calloc(1, 16ULL << 20);
	CHECK_EQ(boot_write_gdt(&gm, 0x5008, &err), 0);
	memcpy(d, gm.host + 0x5008, sizeof(d));
	CHECK_EQ(d[0], 0);
	for (unsigned i = 1; i < BOOT_GDT_ENTRIES; i++) {
		CHECK_EQ(d[i] & 0xffff, 0xffff);	   /* limit 15:0 */
		CHECK_EQ((d[i] >> 48) & 0xf, 0xf);	   /* limit 19:16 */
		CHECK_EQ(d[i] & 0xff000000ffff0000ULL, 0); /* base 0 */
		CHECK((d[i] >> 55) & 1);		   /* G */
		CHECK((d[i] >> 47) & 1);		   /* P */
	}
	/* 32-bit code: type 0xB, D=1, L=0; 64-bit code: L=1, D=0 (boot.rst
	 * __BOOT_CS 0x10); data: type 0x3 (__BOOT_DS 0x18). */
	CHECK_EQ((d[BOOT_SEL_CODE32 / 8] >> 40) & 0x1f, 0x1b);
	CHECK_EQ((d[BOOT_SEL_CODE32 / 8] >> 53) & 3, 2);
	CHECK_EQ(BOOT_SEL_CODE64, 0x10);
	CHECK_EQ((d[BOOT_SEL_CODE64 / 8] >> 40) & 0x1f, 0x1b);
	CHECK_EQ((d[BOOT_SEL_CODE64 / 8] >> 53) & 3, 1);
	CHECK_EQ(BOOT_SEL_DATA, 0x18);
	CHECK_EQ((d[BOOT_SEL_DATA / 8] >> 40) & 0x1f, 0x13);
	CHECK_EQ(BOOT_GDT_LIMIT, 31);
	free(gm.host);
}

int main(void)
{
	RUN_TEST(test_e820_small_guest_three_entries);
	RUN_TEST(test_e820_large_guest_ram_above_4g);
	RUN_TEST(test_e820_respects_max);
	RUN_TEST(test_gdt_flat_descriptors_match_selectors);
	return CHECK_DONE();
}

/* The firmware side of an S3 wake (src/boot/acpi_wake.c): which waking
 * vector of the FACS is used and in which mode (ACPI 6.4, table 5.14),
 * and the long-mode environment it builds in the BIOS area. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "hyve/boot.h"

#define RAM (32ULL << 20)

static struct guest_mem gm;

static uint8_t *facs(void)
{
	return gm.host + BOOT_ACPI_FACS_ADDR;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint64_t get64(uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, gm.host + gpa, 8);
	return v;
}

static void fresh_tables(void)
{
	struct hyve_err err = {0};

	memset(gm.host, 0, RAM);
	CHECK_EQ(acpi_build(&gm, 2, &err), 0);
}

static int vector(struct acpi_wake_vector *v, struct hyve_err *err)
{
	memset(v, 0xa5, sizeof(*v));
	err_clear(err);
	return acpi_wake_vector(&gm, v, err);
}

static void test_wake_real_mode_vector(void)
{
	struct hyve_err err = {0};
	struct acpi_wake_vector v;

	fresh_tables();
	CHECK_EQ(vector(&v, &err), 0);
	CHECK_EQ(v.mode, ACPI_WAKE_NONE); /* the OS set nothing */
	/* What Linux does (acpi_set_waking_vector): the 32-bit field, and
	 * zero in X_FIRMWARE_WAKING_VECTOR. */
	put32(facs() + ACPI_FACS_WAKING_VECTOR, 0x9a000);
	CHECK_EQ(vector(&v, &err), 0);
	CHECK_EQ(v.mode, ACPI_WAKE_REAL);
	CHECK_EQ(v.addr, 0x9a000);
}

static void test_wake_x_vector_protected_or_long_mode(void)
{
	struct hyve_err err = {0};
	struct acpi_wake_vector v;

	fresh_tables();
	put32(facs() + ACPI_FACS_WAKING_VECTOR, 0x9a000);
	put64(facs() + ACPI_FACS_X_WAKING_VECTOR, 0x200000);
	CHECK_EQ(vector(&v, &err), 0);
	CHECK_EQ(v.mode, ACPI_WAKE_PROTECTED32); /* wins over the 32-bit one */
	CHECK_EQ(v.addr, 0x200000);
	put32(facs() + ACPI_FACS_OSPM_FLAGS, ACPI_FACS_OSPM_64BIT_WAKE);
	CHECK_EQ(vector(&v, &err), 0);
	CHECK_EQ(v.mode, ACPI_WAKE_LONG64);
	/* 64BIT_WAKE_F only counts when the platform offers it. */
	put32(facs() + ACPI_FACS_FLAGS, 0);
	CHECK_EQ(vector(&v, &err), 0);
	CHECK_EQ(v.mode, ACPI_WAKE_PROTECTED32);
	/* A version 0 FACS has no X_ field: the 32-bit vector it is. */
	put32(facs() + ACPI_FACS_FLAGS, ACPI_FACS_F_64BIT_WAKE_SUPPORTED);
	facs()[ACPI_FACS_VERSION] = 0;
	CHECK_EQ(vector(&v, &err), 0);
	CHECK_EQ(v.mode, ACPI_WAKE_REAL);
	CHECK_EQ(v.addr, 0x9a000);
}

static void test_wake_refuses_vectors_out_of_reach(void)
{
	struct hyve_err err = {0};
	struct acpi_wake_vector v;

	fresh_tables();
	put64(facs() + ACPI_FACS_X_WAKING_VECTOR, 0x100000000ULL);
	CHECK(vector(&v, &err) < 0);
	CHECK(strstr(err.msg, "above 4 GiB") != NULL);
	put32(facs() + ACPI_FACS_OSPM_FLAGS, ACPI_FACS_OSPM_64BIT_WAKE);
	CHECK(vector(&v, &err) < 0);
	CHECK(strstr(err.msg, "outside the first 4 GiB") != NULL);
}

static void test_wake_tables_identity_map_first_4g(void)
{
	struct hyve_err err = {0};
	uint64_t cr3 = 0, pdpt, pd;

	fresh_tables();
	memset(gm.host + BOOT_WAKE_AREA, 0xee, 0x8000); /* whatever the OS did */
	CHECK_EQ(acpi_wake_tables(&gm, &cr3, &err), 0);
	CHECK(cr3 > BOOT_WAKE_AREA && cr3 < BOOT_WAKE_AREA_END);
	CHECK_EQ(cr3 % 4096, 0);
	CHECK_EQ(get64(BOOT_WAKE_AREA + BOOT_SEL_CODE64), BOOT_GDT_DESC_CODE64);
	CHECK_EQ(get64(BOOT_WAKE_AREA + BOOT_SEL_DATA), BOOT_GDT_DESC_DATA);
	pdpt = get64(cr3) & ~0xfffULL;
	CHECK_EQ(get64(cr3) & 3, 3);
	CHECK_EQ(get64(cr3 + 8), 0);
	for (uint64_t g = 0; g < 4; g++) {
		pd = get64(pdpt + 8 * g) & ~0xfffULL;
		CHECK(pd >= BOOT_WAKE_AREA && pd + 4096 <= BOOT_WAKE_AREA_END);
		CHECK_EQ(get64(pd), (g << 30) | 0x83);
		CHECK_EQ(get64(pd + 8 * 511), (g << 30) + (511ULL << 21) + 0x83);
	}
	CHECK_EQ(get64(pdpt + 8 * 4), 0);
	/* The ACPI tables end below the area. */
	CHECK_EQ(memcmp(facs(), "FACS", 4), 0);
}

int main(void)
{
	struct hyve_err err = {0};

	if (guest_mem_layout(&gm, RAM, &err) != 0)
		return 1;
	gm.host = malloc(RAM);
	if (!gm.host)
		return 1;
	RUN_TEST(test_wake_real_mode_vector);
	RUN_TEST(test_wake_x_vector_protected_or_long_mode);
	RUN_TEST(test_wake_refuses_vectors_out_of_reach);
	RUN_TEST(test_wake_tables_identity_map_first_4g);
	free(gm.host);
	return CHECK_DONE();
}

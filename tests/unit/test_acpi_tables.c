/* ACPI tables: structure and checksums checked here, then every table is
 * disassembled with iasl (acpica-tools) and the disassembly recompiled:
 * zero errors and zero warnings in both directions. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "hyve/boot.h"

#define RAM (32ULL << 20)

static struct guest_mem gm;

static void mem_setup(void)
{
	struct hyve_err err = {0};

	if (guest_mem_layout(&gm, RAM, &err) != 0) {
		printf("FAIL: setup: guest_mem_layout: %s\n", err.msg);
		exit(1);
	}
	gm.host = calloc(1, RAM);
	if (!gm.host)
		exit(1);
}

static uint8_t *at(uint64_t gpa)
{
	return gm.host + gpa;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* A table referenced from `gpa`: lies in the BIOS area, checksum right. */
static int table_ok(uint64_t gpa, const char *sig)
{
	uint32_t len;

	if (gpa < BOOT_BIOS_START || gpa + 36 > BOOT_BIOS_END)
		return 0;
	len = get32(at(gpa) + 4);
	if (memcmp(at(gpa), sig, 4) != 0 || len < 36 ||
	    gpa + len > BOOT_BIOS_END)
		return 0;
	return sum(at(gpa), len) == 0;
}

static uint64_t xsdt_find(const char *sig)
{
	uint64_t xsdt = get64(at(BOOT_ACPI_RSDP_ADDR) + 24);
	uint32_t len = get32(at(xsdt) + 4);

	for (uint32_t off = 36; off + 8 <= len; off += 8) {
		uint64_t t = get64(at(xsdt) + off);

		if (t >= BOOT_BIOS_START && t < BOOT_BIOS_END &&
		    memcmp(at(t), sig, 4) == 0)
			return t;
	}
	return 0;
}

static void build(unsigned nr_vcpus)
{
	struct hyve_err err = {0};

	memset(gm.host, 0xAA, BOOT_BIOS_END); /* garbage the build must clear */
	CHECK_EQ(acpi_build(&gm, nr_vcpus, &err), 0);
}

static void test_acpi_rsdp_checksums_and_pointers(void)
{
	uint8_t *r;
	uint64_t rsdt, xsdt;

	build(2);
	r = at(BOOT_ACPI_RSDP_ADDR);
	CHECK(BOOT_ACPI_RSDP_ADDR % 16 == 0);
	CHECK(BOOT_ACPI_RSDP_ADDR >= 0xE0000 && BOOT_ACPI_RSDP_ADDR < 0x100000);
	CHECK(memcmp(r, "RSD PTR ", 8) == 0);
	CHECK_EQ(r[15], 2);
	CHECK_EQ(sum(r, 20), 0);
	CHECK_EQ(get32(r + 20), 36);
	CHECK_EQ(sum(r, 36), 0);
	rsdt = get32(r + 16);
	xsdt = get64(r + 24);
	CHECK(table_ok(rsdt, "RSDT"));
	CHECK(table_ok(xsdt, "XSDT"));
	/* RSDT and XSDT list the same tables. */
	CHECK_EQ((get32(at(rsdt) + 4) - 36) / 4,
		 (get32(at(xsdt) + 4) - 36) / 8);
	for (uint32_t i = 0; i < (get32(at(rsdt) + 4) - 36) / 4; i++)
		CHECK_EQ(get32(at(rsdt) + 36 + 4 * i),
			 get64(at(xsdt) + 36 + 8 * i));
	CHECK(table_ok(xsdt_find("FACP"), "FACP"));
	CHECK(table_ok(xsdt_find("APIC"), "APIC"));
	CHECK(table_ok(xsdt_find("HPET"), "HPET"));
}

static void test_acpi_fadt_pm_blocks_sci_reset(void)
{
	uint64_t f, dsdt, facs;
	uint8_t *p;

	build(1);
	f = xsdt_find("FACP");
	CHECK(f != 0);
	p = at(f);
	CHECK_EQ(p[8], 6);
	CHECK_EQ(get32(p + 4), 276);
	dsdt = get64(p + 140);
	facs = get64(p + 132);
	CHECK_EQ(get32(p + 40), dsdt);
	CHECK_EQ(get32(p + 36), facs);
	CHECK(table_ok(dsdt, "DSDT"));
	CHECK(memcmp(at(facs), "FACS", 4) == 0 && facs % 64 == 0 &&
	      get32(at(facs) + 4) == 64);
	/* Where the S3 wake reads it; version 2 with X_FIRMWARE_WAKING_VECTOR
	 * and the OSPM flags; 64-bit wake offered; no vector yet. */
	CHECK_EQ(facs, BOOT_ACPI_FACS_ADDR);
	CHECK_EQ(at(facs)[32], 2);
	CHECK_EQ(get32(at(facs) + 20), 2); /* 64BIT_WAKE_SUPPORTED_F */
	CHECK_EQ(get32(at(facs) + 12), 0);
	CHECK_EQ(get64(at(facs) + 24), 0);
	CHECK_EQ(get32(at(facs) + 36), 0);
	CHECK(!(get32(p + 112) & (1U << 6))); /* RTC_STS/RTC_EN in PM1 */
	CHECK(!(get32(p + 112) & (1U << 4))); /* fixed power button */
	CHECK_EQ(get16(p + 46), 9);
	CHECK_EQ(get32(p + 48), 0); /* no SMI_CMD: ACPI always on */
	CHECK_EQ(get32(p + 56), 0x600);
	CHECK_EQ(get32(p + 64), 0x604);
	CHECK_EQ(get32(p + 76), 0x608);
	CHECK_EQ(p[88], 4);
	CHECK_EQ(p[89], 2);
	CHECK_EQ(p[91], 4);
	CHECK_EQ(p[108], 0x32);
	CHECK_EQ(get16(p + 109) & 3, 3);       /* legacy devices + 8042 */
	CHECK(get32(p + 112) & (1U << 8));     /* TMR_VAL_EXT */
	CHECK(get32(p + 112) & (1U << 10));    /* RESET_REG_SUP */
	CHECK(!(get32(p + 112) & (1U << 20))); /* not hardware-reduced */
	CHECK_EQ(p[116], 1);		       /* reset reg in system I/O */
	CHECK_EQ(get64(p + 120), 0xCF9);
	CHECK_EQ(p[128], 6);
	/* X_ blocks agree with the legacy ones. */
	CHECK_EQ(p[148], 1);
	CHECK_EQ(p[149], 32);
	CHECK_EQ(get64(p + 152), 0x600);
	CHECK_EQ(p[173], 16);
	CHECK_EQ(get64(p + 176), 0x604);
	CHECK_EQ(p[209], 32);
	CHECK_EQ(get64(p + 212), 0x608);
}

static void test_acpi_madt_one_lapic_per_vcpu(void)
{
	static const unsigned counts[] = {1, 4, 64};

	for (unsigned c = 0; c < 3; c++) {
		unsigned n = counts[c], lapics = 0, ioapics = 0, isos = 0,
			 nmis = 0;
		uint64_t m;
		uint32_t len;

		build(n);
		m = xsdt_find("APIC");
		CHECK(table_ok(m, "APIC"));
		CHECK_EQ(get32(at(m) + 36), 0xFEE00000);
		CHECK_EQ(get32(at(m) + 40) & 1, 1);
		len = get32(at(m) + 4);
		for (uint32_t off = 44; off + 2 <= len;) {
			uint8_t *e = at(m) + off;

			CHECK(e[1] >= 2 && off + e[1] <= len);
			if (e[1] < 2)
				break;
			if (e[0] == 0) {
				CHECK_EQ(e[2], lapics);
				CHECK_EQ(e[3], lapics);
				CHECK_EQ(get32(e + 4) & 1, 1);
				lapics++;
			} else if (e[0] == 1) {
				CHECK_EQ(e[2], n);
				CHECK_EQ(get32(e + 4), 0xFEC00000);
				CHECK_EQ(get32(e + 8), 0);
				ioapics++;
			} else if (e[0] == 2) {
				if (e[3] == 0) {
					CHECK_EQ(get32(e + 4), 2);
					CHECK_EQ(get16(e + 8) & 0xc,
						 0x4); /* edge */
				} else {
					CHECK_EQ(e[3], 9);
					CHECK_EQ(get32(e + 4), 9);
					CHECK_EQ(get16(e + 8),
						 0xd); /* level, active high */
				}
				isos++;
			} else if (e[0] == 4) {
				CHECK_EQ(e[5], 1);
				nmis++;
			}
			off += e[1];
		}
		CHECK_EQ(lapics, n);
		CHECK_EQ(ioapics, 1);
		CHECK_EQ(isos, 2);
		CHECK_EQ(nmis, 1);
	}
}

static void test_acpi_hpet_matches_device_constants(void)
{
	uint64_t h;

	build(1);
	h = xsdt_find("HPET");
	CHECK(table_ok(h, "HPET"));
	CHECK_EQ(get32(at(h) + 36), ACPI_HPET_CAP_LOW);
	CHECK_EQ(ACPI_HPET_CAP_LOW >> 16, 0x8086);
	CHECK_EQ((ACPI_HPET_CAP_LOW >> 8) & 0x1f, 2);
	CHECK(ACPI_HPET_CAP_LOW & (1U << 13));
	CHECK(ACPI_HPET_CAP_LOW & (1U << 15));
	CHECK_EQ(at(h)[40], 0); /* system memory */
	CHECK_EQ(get64(at(h) + 44), 0xFED00000);
}

static int mem_find(const uint8_t *p, size_t n, const void *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (memcmp(p + i, needle, m) == 0)
			return 1;
	return 0;
}

static void test_acpi_dsdt_sleep_states_and_legacy_devices(void)
{
	static const uint8_t s5[] = {0x08, '\\', '_', 'S', '5', '_', 0x12};
	static const uint8_t s5_body[] = {0x04, 0x0a, 0x05, 0x0a,
					  0x05, 0x00, 0x00};
	/* \_S3 = Package {3, 3, 0, 0}; \_S0 = Package {0, 0, 0, 0}. */
	static const uint8_t s3[] = {0x08, '\\', '_', 'S', '3', '_', 0x12,
				     0x08, 0x04, 0x0a, 0x03, 0x0a, 0x03,
				     0x00, 0x00};
	static const uint8_t s0[] = {0x08, '\\', '_', 'S', '0', '_', 0x12,
				     0x06, 0x04, 0x00, 0x00, 0x00, 0x00};
	static const uint8_t pnp0501[] = {0x0c, 0x41, 0xd0, 0x05, 0x01};
	static const uint8_t pnp0b00[] = {0x0c, 0x41, 0xd0, 0x0b, 0x00};
	static const uint8_t pnp0103[] = {0x0c, 0x41, 0xd0, 0x01, 0x03};
	static const uint8_t com1_io[] = {0x47, 0x01, 0xf8, 0x03,
					  0xf8, 0x03, 0x01, 0x08};
	uint64_t d;
	uint32_t len;

	build(1);
	d = get64(at(xsdt_find("FACP")) + 140);
	CHECK(table_ok(d, "DSDT"));
	len = get32(at(d) + 4);
	CHECK(mem_find(at(d), len, s5, sizeof(s5)));
	CHECK(mem_find(at(d), len, s5_body, sizeof(s5_body)));
	CHECK_EQ(ACPI_SLP_TYP_S5, 5);
	CHECK(mem_find(at(d), len, s3, sizeof(s3)));
	CHECK_EQ(ACPI_SLP_TYP_S3, 3);
	CHECK(mem_find(at(d), len, s0, sizeof(s0)));
	CHECK(mem_find(at(d), len, pnp0501, sizeof(pnp0501)));
	CHECK(mem_find(at(d), len, pnp0b00, sizeof(pnp0b00)));
	CHECK(mem_find(at(d), len, pnp0103, sizeof(pnp0103)));
	CHECK(mem_find(at(d), len, com1_io, sizeof(com1_io)));
	CHECK(mem_find(at(d), len, "COM2", 4));
}

static void test_acpi_rejects_bad_vcpu_count(void)
{
	struct hyve_err err = {0};

	CHECK(acpi_build(&gm, 0, &err) < 0);
	CHECK(strstr(err.msg, "vCPU") != NULL);
	err_clear(&err);
	CHECK(acpi_build(&gm, HYVE_MAX_VCPUS + 1, &err) < 0);
}

/* ---- iasl ---- */

/* 1 if a line of `path` holds one of `words` (printed when `show`). */
static int file_has(const char *path, const char *const *words, int show)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int hit = 0;

	if (!f)
		return -1;
	while (!hit && fgets(line, sizeof(line), f))
		for (const char *const *w = words; *w; w++)
			if (strstr(line, *w)) {
				if (show)
					printf("  %s: %s", path, line);
				hit = 1;
			}
	fclose(f);
	return hit;
}

static int iasl_available(void)
{
	return system("command -v iasl >/dev/null 2>&1") == 0;
}

static void dump_table(const char *dir, uint64_t gpa)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%.4s.dat", dir, (const char *)at(gpa));
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_EQ(fwrite(at(gpa), 1, get32(at(gpa) + 4), f), get32(at(gpa) + 4));
	fclose(f);
}

static void iasl_check(const char *dir, const char *sig)
{
	static const char *const bad[] = {"Error",   "error",	  "Warning",
					  "warning", "Incorrect", "Invalid",
					  "Unknown", NULL};
	static const char *const ok[] = {
	    "Compilation successful. 0 Errors, 0 Warnings", NULL};
	char cmd[1024], path[512];
	int rc;

	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d %s.dat > %s.dis.log 2>&1",
		 dir, sig, sig);
	rc = system(cmd);
	CHECK_EQ(rc, 0);
	snprintf(path, sizeof(path), "%s/%s.dis.log", dir, sig);
	CHECK_EQ(file_has(path, bad, 1), 0);
	snprintf(path, sizeof(path), "%s/%s.dsl", dir, sig);
	CHECK_EQ(file_has(path, bad, 1), 0);
	/* Recompile what iasl disassembled: an encoding iasl only half
	 * understood shows up here. */
	snprintf(cmd, sizeof(cmd),
		 "cd %s && iasl -p %s-re %s.dsl > %s.asm.log 2>&1", dir, sig,
		 sig, sig);
	rc = system(cmd);
	CHECK_EQ(rc, 0);
	snprintf(path, sizeof(path), "%s/%s.asm.log", dir, sig);
	CHECK_EQ(file_has(path, ok, 0), 1);
}

static void test_acpi_iasl_disassembles_every_table(void)
{
	static const char *const sigs[] = {"FACP", "FACS", "DSDT", "APIC",
					   "HPET", "RSDT", "XSDT"};
	char dir[] = "/tmp/hyve-acpi-XXXXXX";
	uint64_t fadt;
	char cmd[600];

	build(4);
	CHECK(mkdtemp(dir) != NULL);
	fadt = xsdt_find("FACP");
	dump_table(dir, fadt);
	dump_table(dir, get64(at(fadt) + 132));
	dump_table(dir, get64(at(fadt) + 140));
	dump_table(dir, xsdt_find("APIC"));
	dump_table(dir, xsdt_find("HPET"));
	dump_table(dir, get32(at(BOOT_ACPI_RSDP_ADDR) + 16));
	dump_table(dir, get64(at(BOOT_ACPI_RSDP_ADDR) + 24));
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		iasl_check(dir, sigs[i]);
	if (!check_case_failed) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("  could not remove %s\n", dir);
	} else {
		printf("  iasl output kept in %s\n", dir);
	}
}

int main(void)
{
	mem_setup();
	RUN_TEST(test_acpi_rsdp_checksums_and_pointers);
	RUN_TEST(test_acpi_fadt_pm_blocks_sci_reset);
	RUN_TEST(test_acpi_madt_one_lapic_per_vcpu);
	RUN_TEST(test_acpi_hpet_matches_device_constants);
	RUN_TEST(test_acpi_dsdt_sleep_states_and_legacy_devices);
	RUN_TEST(test_acpi_rejects_bad_vcpu_count);
	if (iasl_available())
		RUN_TEST(test_acpi_iasl_disassembles_every_table);
	else
		SKIP_TEST(test_acpi_iasl_disassembles_every_table,
			  "iasl not found (Debian package acpica-tools)");
	free(gm.host);
	return CHECK_DONE();
}

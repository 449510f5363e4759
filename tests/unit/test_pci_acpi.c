/* The PCI parts of the ACPI tables: MCFG points at hyve's ECAM window,
 * and the DSDT's host bridge (PNP0A08/PNP0A03) has the windows and the
 * _PRT that src/dev/pci.c implements; iasl disassembles both and the
 * disassembly says what we meant. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "hyve/boot.h"
#include "hyve/pci.h"

#define RAM (32ULL << 20)

static struct guest_mem gm;
static uint8_t *ram;

static uint64_t get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static const uint8_t *table(const char *sig)
{
	const uint8_t *rsdp = gm.host + BOOT_ACPI_RSDP_ADDR;
	const uint8_t *xsdt = gm.host + get(rsdp + 24, 8);

	for (uint32_t off = 36; off < get(xsdt + 4, 4); off += 8) {
		const uint8_t *t = gm.host + get(xsdt + off, 8);

		if (memcmp(t, sig, 4) == 0)
			return t;
		if (strcmp(sig, "DSDT") == 0 && memcmp(t, "FACP", 4) == 0)
			return gm.host + get(t + 140, 8);
	}
	return NULL;
}

static void build(void)
{
	struct hyve_err err = { 0 };

	if (!ram)
		ram = calloc(1, RAM);
	guest_mem_layout(&gm, RAM, &err); /* clears gm.host */
	gm.host = ram;
	CHECK_EQ(acpi_build(&gm, 2, &err), 0);
}

static void test_pci_mcfg_points_at_ecam(void)
{
	const uint8_t *t;
	uint8_t s = 0;

	build();
	t = table("MCFG");
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_EQ(get(t + 4, 4), 60);
	for (unsigned i = 0; i < 60; i++)
		s = (uint8_t)(s + t[i]);
	CHECK_EQ(s, 0);
	CHECK_EQ(get(t + 44, 8), PCI_ECAM_BASE);
	CHECK_EQ(get(t + 52, 2), 0);
	CHECK_EQ(t[54], 0);
	CHECK_EQ(t[55], PCI_ECAM_LAST_BUS);
}

/* Runs iasl -d on a table; returns the .dsl text (malloc'd) or NULL. */
static char *iasl_disassemble(const char *dir, const char *sig)
{
	const uint8_t *t = table(sig);
	char path[600], cmd[1400];
	FILE *f;
	char *text;
	long n;

	if (!t)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s.dat", dir, sig);
	f = fopen(path, "w");
	if (!f)
		return NULL;
	fwrite(t, 1, get(t + 4, 4), f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d %s.dat >%s.log 2>&1 && iasl -p %s-re %s.dsl >>%s.log 2>&1",
		 dir, sig, sig, sig, sig, sig);
	if (system(cmd) != 0)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s.dsl", dir, sig);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)n + 1);
	if (text && fread(text, 1, (size_t)n, f) != (size_t)n) {
		free(text);
		text = NULL;
	}
	fclose(f);
	return text;
}

static void test_pci_iasl_reads_mcfg_and_host_bridge(void)
{
	char dir[] = "/tmp/hyve-pci-acpi-XXXXXX", cmd[64];
	char *mcfg, *dsdt;

	build();
	CHECK(mkdtemp(dir) != NULL);
	mcfg = iasl_disassemble(dir, "MCFG");
	dsdt = iasl_disassemble(dir, "DSDT");
	CHECK(mcfg != NULL && dsdt != NULL);
	if (mcfg && dsdt) {
		CHECK(strstr(mcfg, "Base Address : 00000000E0000000") != NULL);
		CHECK(strstr(mcfg, "End Bus Number : FF") != NULL);
		CHECK(strstr(dsdt, "Device (PCI0)") != NULL);
		CHECK(strstr(dsdt, "EisaId (\"PNP0A08\")") != NULL);
		CHECK(strstr(dsdt, "EisaId (\"PNP0A03\")") != NULL);
		CHECK(strstr(dsdt, "WordBusNumber") != NULL);
		CHECK(strstr(dsdt, "0xC0000000") != NULL && strstr(dsdt, "0xDFFFFFFF") != NULL);
		CHECK(strstr(dsdt, "Name (_PRT, Package (0x7C)") != NULL);
		/* Slot 3, INTA# -> GSI 16 + 3 = 0x13. */
		CHECK(strstr(dsdt, "0x0003FFFF") != NULL);
		CHECK(strstr(dsdt, "EisaId (\"PNP0C02\")") != NULL);
		CHECK(strstr(dsdt, "0xE0000000") != NULL);
	}
	free(mcfg);
	free(dsdt);
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
	RUN_TEST(test_pci_mcfg_points_at_ecam);
	if (system("command -v iasl >/dev/null 2>&1") == 0)
		RUN_TEST(test_pci_iasl_reads_mcfg_and_host_bridge);
	else
		SKIP_TEST(test_pci_iasl_reads_mcfg_and_host_bridge, "iasl not found (Debian package acpica-tools)");
	free(ram);
	return CHECK_DONE();
}

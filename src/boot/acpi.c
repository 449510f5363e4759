/* ACPI tables hyve writes in place of firmware (ACPI 6.4, chapter 5.2):
 * RSDP -> XSDT/RSDT -> FADT (-> FACS, DSDT), MADT, HPET, MCFG.  Everything lives in
 * the BIOS area [0xE0000, BOOT_WAKE_AREA), which e820 reports as reserved; the RSDP
 * sits at its 16-byte aligned start so that an OS scanning the area finds
 * it too.  The constants the device models must match are in hyve/boot.h. */
#include <string.h>

#include "boot/aml.h"
#include "boot/boot_file.h"
#include "hyve/boot.h"
#include "hyve/hpet.h"
#include "hyve/pci.h"

#define ACPI_HEADER_LEN	      36
#define ACPI_OEM_ID	      "HYVE  "
#define ACPI_CREATOR_ID	      "HYVE"
#define ACPI_REVISION_OEM     1
#define ACPI_REVISION_CREATOR 1

#define RSDP_LEN       36
#define RSDP_V1_LEN    20
#define FACS_LEN       ACPI_FACS_LEN
#define FADT_LEN       276 /* revision 6 */
#define HPET_TABLE_LEN 56
#define DSDT_MAX       8192
#define MCFG_LEN       60

/* Generic Address Structure (5.2.3.2) */
#define GAS_SYSTEM_MEMORY 0
#define GAS_SYSTEM_IO	  1
#define GAS_ACCESS_BYTE	  1
#define GAS_ACCESS_WORD	  2
#define GAS_ACCESS_DWORD  3

/* FADT Flags (5.2.9, table 5.10) */
#define FADT_F_WBINVD	     (1U << 0)
#define FADT_F_PROC_C1	     (1U << 2)
#define FADT_F_SLP_BUTTON    (1U << 5) /* 1: no fixed-feature sleep button */
/* FIX_RTC (bit 6) stays clear: RTC_STS/RTC_EN are in PM1 (an RTC alarm
 * wakes from S3); PWR_BUTTON (bit 4) clear: a fixed power button. */
#define FADT_F_TMR_VAL_EXT   (1U << 8)
#define FADT_F_RESET_REG_SUP (1U << 10)
/* IA-PC boot architecture flags (table 5.11) */
#define FADT_BOOT_LEGACY_DEVICES (1U << 0)
#define FADT_BOOT_8042		 (1U << 1)
#define FADT_BOOT_NO_VGA	 (1U << 2)

/* MADT (5.2.12) */
#define MADT_PCAT_COMPAT     1U
#define MADT_LAPIC	     0
#define MADT_IOAPIC	     1
#define MADT_SOURCE_OVERRIDE 2
#define MADT_LAPIC_NMI	     4
#define MADT_ENABLED	     1U
#define MPS_ACTIVE_HIGH	     0x1
#define MPS_EDGE	     (0x1 << 2)
#define MPS_LEVEL	     (0x3 << 2)

struct acpi_area {
	struct guest_mem *gm;
	uint64_t next;
	struct hyve_err *err;
};

/* Carves the next `len` bytes (aligned) out of the BIOS area, zeroed. */
static uint8_t *acpi_alloc(struct acpi_area *ar, size_t len, uint64_t align,
			   uint64_t *gpa)
{
	uint64_t at = boot_align_up(ar->next, align);
	uint8_t *p;

	if (at > BOOT_WAKE_AREA || len > BOOT_WAKE_AREA - at) {
		err_set(ar->err, E2BIG, "acpi: tables do not fit below 0x%llx",
			BOOT_WAKE_AREA);
		return NULL;
	}
	p = guest_ptr(ar->gm, at, len);
	if (!p) {
		err_set(ar->err, EFAULT,
			"acpi: table at 0x%llx is outside guest RAM",
			(unsigned long long)at);
		return NULL;
	}
	memset(p, 0, len);
	ar->next = at + len;
	*gpa = at;
	return p;
}

static uint8_t acpi_sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Sets the byte at `at` so that the `len` bytes from p sum to zero. */
static void acpi_checksum(uint8_t *p, size_t len, size_t at)
{
	p[at] = 0;
	p[at] = (uint8_t)-acpi_sum(p, len);
}

static void acpi_header(uint8_t *p, const char *sig, uint32_t len, uint8_t rev)
{
	char table_id[9];

	memcpy(p, sig, 4);
	boot_put32(p + 4, len);
	p[8] = rev;
	memcpy(p + 10, ACPI_OEM_ID, 6);
	memcpy(table_id, "HYVE", 4);
	memcpy(table_id + 4, sig, 4);
	memcpy(p + 16, table_id, 8);
	boot_put32(p + 24, ACPI_REVISION_OEM);
	memcpy(p + 28, ACPI_CREATOR_ID, 4);
	boot_put32(p + 32, ACPI_REVISION_CREATOR);
}

static void acpi_gas(uint8_t *p, uint8_t space, uint8_t bits, uint8_t access,
		     uint64_t addr)
{
	p[0] = space;
	p[1] = bits;
	p[2] = 0; /* bit offset */
	p[3] = access;
	boot_put64(p + 4, addr);
}

/* 5.2.10: 64-byte aligned; no checksum.  The OS writes its waking vectors
 * here before S3 and hyve reads them at the wake (acpi_wake.c).  The
 * hardware signature stays 0: an OS compares it only when resuming from
 * S4, which hyve's firmware does not do (and iasl -d reads those bytes as
 * a table header's ASCII fields). */
static int acpi_build_facs(struct acpi_area *ar, uint64_t *gpa)
{
	uint8_t *p = acpi_alloc(ar, FACS_LEN, 64, gpa);

	if (!p)
		return -E2BIG;
	if (*gpa != BOOT_ACPI_FACS_ADDR)
		return err_set(ar->err, EFAULT,
			       "acpi: FACS at 0x%llx, not at 0x%llx",
			       (unsigned long long)*gpa, BOOT_ACPI_FACS_ADDR);
	memcpy(p, "FACS", 4);
	boot_put32(p + 4, FACS_LEN);
	boot_put32(p + ACPI_FACS_FLAGS, ACPI_FACS_F_64BIT_WAKE_SUPPORTED);
	p[ACPI_FACS_VERSION] = 2; /* with X_FIRMWARE_WAKING_VECTOR, OSPM flags */
	return 0;
}

static int acpi_build_dsdt(struct acpi_area *ar, uint64_t *gpa)
{
	uint8_t body[DSDT_MAX];
	size_t n = acpi_dsdt_body(body, sizeof(body));
	uint8_t *p;

	if (n == 0)
		return err_set(ar->err, E2BIG,
			       "acpi: DSDT does not fit in %d bytes", DSDT_MAX);
	p = acpi_alloc(ar, ACPI_HEADER_LEN + n, 16, gpa);
	if (!p)
		return -E2BIG;
	/* Revision 2: integers are 64 bits wide. */
	acpi_header(p, "DSDT", (uint32_t)(ACPI_HEADER_LEN + n), 2);
	memcpy(p + ACPI_HEADER_LEN, body, n);
	acpi_checksum(p, ACPI_HEADER_LEN + n, 9);
	return 0;
}

static int acpi_build_fadt(struct acpi_area *ar, uint64_t facs, uint64_t dsdt,
			   uint64_t *gpa)
{
	uint8_t *p = acpi_alloc(ar, FADT_LEN, 16, gpa);

	if (!p)
		return -E2BIG;
	acpi_header(p, "FACP", FADT_LEN, 6);
	/* Both the 32-bit and 64-bit pointers, equal, for old and new OSPMs. */
	boot_put32(p + 36, (uint32_t)facs);
	boot_put32(p + 40, (uint32_t)dsdt);
	p[45] = 0; /* preferred PM profile: unspecified */
	boot_put16(p + 46, ACPI_SCI_IRQ);
	/* SMI_CMD 0: no SMM, ACPI is always enabled (SCI_EN reads as set). */
	boot_put32(p + 48, 0);
	boot_put32(p + 56, ACPI_PM1A_EVT_BLK);
	boot_put32(p + 64, ACPI_PM1A_CNT_BLK);
	boot_put32(p + 76, ACPI_PM_TMR_BLK);
	p[88] = ACPI_PM1_EVT_LEN;
	p[89] = ACPI_PM1_CNT_LEN;
	p[91] = ACPI_PM_TMR_LEN;
	boot_put16(p + 96, 101);  /* P_LVL2_LAT > 100: no C2 */
	boot_put16(p + 98, 1001); /* P_LVL3_LAT > 1000: no C3 */
	p[108] = ACPI_RTC_CENTURY;
	boot_put16(p + 109, FADT_BOOT_LEGACY_DEVICES | FADT_BOOT_8042 |
				FADT_BOOT_NO_VGA);
	boot_put32(p + 112, FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON |
				FADT_F_TMR_VAL_EXT | FADT_F_RESET_REG_SUP);
	acpi_gas(p + 116, GAS_SYSTEM_IO, 8, GAS_ACCESS_BYTE, ACPI_RESET_PORT);
	p[128] = ACPI_RESET_VALUE;
	p[131] = 0; /* FADT minor version: 6.0 */
	boot_put64(p + 132, facs);
	boot_put64(p + 140, dsdt);
	acpi_gas(p + 148, GAS_SYSTEM_IO, ACPI_PM1_EVT_LEN * 8, GAS_ACCESS_WORD,
		 ACPI_PM1A_EVT_BLK);
	acpi_gas(p + 172, GAS_SYSTEM_IO, ACPI_PM1_CNT_LEN * 8, GAS_ACCESS_WORD,
		 ACPI_PM1A_CNT_BLK);
	acpi_gas(p + 208, GAS_SYSTEM_IO, ACPI_PM_TMR_LEN * 8, GAS_ACCESS_DWORD,
		 ACPI_PM_TMR_BLK);
	memcpy(p + 268, "HYVE    ", 8); /* hypervisor vendor identity */
	acpi_checksum(p, FADT_LEN, 9);
	return 0;
}

static int acpi_build_madt(struct acpi_area *ar, unsigned nr_vcpus,
			   uint64_t *gpa)
{
	size_t len = 44 + nr_vcpus * 8 + 12 + 2 * 10 + 6;
	uint8_t *p = acpi_alloc(ar, len, 16, gpa), *e;

	if (!p)
		return -E2BIG;
	acpi_header(p, "APIC", (uint32_t)len, 4);
	boot_put32(p + 36, ACPI_LAPIC_ADDR);
	boot_put32(p + 40,
		   MADT_PCAT_COMPAT); /* 8259s present (masked by the OS) */
	e = p + 44;
	for (unsigned i = 0; i < nr_vcpus; i++, e += 8) {
		e[0] = MADT_LAPIC;
		e[1] = 8;
		e[2] = (uint8_t)i; /* ACPI processor UID */
		e[3] = (uint8_t)i; /* APIC ID: vCPU index (vcpu.h) */
		boot_put32(e + 4, MADT_ENABLED);
	}
	/* The IOAPIC's id follows the LAPIC ids so none collide. */
	e[0] = MADT_IOAPIC;
	e[1] = 12;
	e[2] = (uint8_t)nr_vcpus;
	boot_put32(e + 4, ACPI_IOAPIC_ADDR);
	boot_put32(e + 8, 0); /* GSI base */
	e += 12;
	/* The PIT's IRQ0 is wired to IOAPIC pin 2 (KVM's default routing). */
	e[0] = MADT_SOURCE_OVERRIDE;
	e[1] = 10;
	e[2] = 0; /* ISA */
	e[3] = 0;
	boot_put32(e + 4, 2);
	boot_put16(e + 8, MPS_ACTIVE_HIGH | MPS_EDGE);
	e += 10;
	/* The SCI is level triggered; active high, as the PM device drives it.
	 */
	e[0] = MADT_SOURCE_OVERRIDE;
	e[1] = 10;
	e[2] = 0;
	e[3] = ACPI_SCI_IRQ;
	boot_put32(e + 4, ACPI_SCI_IRQ);
	boot_put16(e + 8, MPS_ACTIVE_HIGH | MPS_LEVEL);
	e += 10;
	/* NMI on LINT1 of every processor, as on a PC. */
	e[0] = MADT_LAPIC_NMI;
	e[1] = 6;
	e[2] = 0xff; /* all processors */
	boot_put16(e + 3, 0);
	e[5] = 1; /* LINT1 */
	acpi_checksum(p, len, 9);
	return 0;
}

static int acpi_build_hpet(struct acpi_area *ar, uint64_t *gpa)
{
	uint8_t *p = acpi_alloc(ar, HPET_TABLE_LEN, 16, gpa);

	if (!p)
		return -E2BIG;
	acpi_header(p, "HPET", HPET_TABLE_LEN, 1);
	boot_put32(p + 36, ACPI_HPET_CAP_LOW);
	acpi_gas(p + 40, GAS_SYSTEM_MEMORY, 64, 0, ACPI_HPET_ADDR);
	p[52] = 0; /* HPET number */
	boot_put16(p + 53,
		   HPET_MIN_TICK); /* minimum periodic tick (counter ticks) */
	p[55] = 0;		   /* no page protection guarantee */
	acpi_checksum(p, HPET_TABLE_LEN, 9);
	return 0;
}

/* MCFG (PCI Firmware 3.2, 4.1.2): one ECAM allocation for segment 0. */
static int acpi_build_mcfg(struct acpi_area *ar, uint64_t *gpa)
{
	uint8_t *p = acpi_alloc(ar, MCFG_LEN, 16, gpa);

	if (!p)
		return -E2BIG;
	acpi_header(p, "MCFG", MCFG_LEN, 1);
	boot_put64(p + 44, PCI_ECAM_BASE);
	boot_put16(p + 52, 0);  /* segment */
	p[54] = 0;              /* first bus */
	p[55] = PCI_ECAM_LAST_BUS;
	acpi_checksum(p, MCFG_LEN, 9);
	return 0;
}

static int acpi_build_sdts(struct acpi_area *ar, const uint64_t *tables,
			   unsigned n, uint64_t *rsdt, uint64_t *xsdt)
{
	size_t rlen = ACPI_HEADER_LEN + 4 * n, xlen = ACPI_HEADER_LEN + 8 * n;
	uint8_t *r = acpi_alloc(ar, rlen, 16, rsdt), *x;

	if (!r)
		return -E2BIG;
	x = acpi_alloc(ar, xlen, 16, xsdt);
	if (!x)
		return -E2BIG;
	acpi_header(r, "RSDT", (uint32_t)rlen, 1);
	acpi_header(x, "XSDT", (uint32_t)xlen, 1);
	for (unsigned i = 0; i < n; i++) {
		boot_put32(r + ACPI_HEADER_LEN + 4 * i, (uint32_t)tables[i]);
		boot_put64(x + ACPI_HEADER_LEN + 8 * i, tables[i]);
	}
	acpi_checksum(r, rlen, 9);
	acpi_checksum(x, xlen, 9);
	return 0;
}

int acpi_build(struct guest_mem *gm, unsigned nr_vcpus, struct hyve_err *err)
{
	struct acpi_area ar = {
	    .gm = gm, .next = BOOT_ACPI_RSDP_ADDR, .err = err};
	uint64_t rsdp_gpa, facs, dsdt, tables[4], rsdt, xsdt;
	uint8_t *rsdp;
	int ret;

	if (nr_vcpus == 0 || nr_vcpus > HYVE_MAX_VCPUS)
		return err_set(err, EINVAL, "acpi: %u vCPUs is outside 1..%d",
			       nr_vcpus, HYVE_MAX_VCPUS);
	if (!guest_ptr(gm, BOOT_BIOS_START, BOOT_BIOS_END - BOOT_BIOS_START))
		return err_set(err, EFAULT,
			       "acpi: BIOS area is outside guest RAM");
	memset(guest_ptr(gm, BOOT_BIOS_START, BOOT_BIOS_END - BOOT_BIOS_START),
	       0, BOOT_BIOS_END - BOOT_BIOS_START);
	rsdp = acpi_alloc(&ar, RSDP_LEN, 16, &rsdp_gpa);
	if (!rsdp)
		return -E2BIG;
	ret = acpi_build_facs(&ar, &facs);
	if (!ret)
		ret = acpi_build_dsdt(&ar, &dsdt);
	if (!ret)
		ret = acpi_build_fadt(&ar, facs, dsdt, &tables[0]);
	if (!ret)
		ret = acpi_build_madt(&ar, nr_vcpus, &tables[1]);
	if (!ret)
		ret = acpi_build_hpet(&ar, &tables[2]);
	if (!ret)
		ret = acpi_build_mcfg(&ar, &tables[3]);
	if (!ret)
		ret = acpi_build_sdts(&ar, tables, 4, &rsdt, &xsdt);
	if (ret)
		return ret;
	/* 5.2.5.3: revision 2 RSDP; the first checksum covers the ACPI 1.0
	 * part (20 bytes), the extended one the whole structure. */
	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, ACPI_OEM_ID, 6);
	rsdp[15] = 2;
	boot_put32(rsdp + 16, (uint32_t)rsdt);
	boot_put32(rsdp + 20, RSDP_LEN);
	boot_put64(rsdp + 24, xsdt);
	acpi_checksum(rsdp, RSDP_V1_LEN, 8);
	acpi_checksum(rsdp, RSDP_LEN, 32);
	return 0;
}

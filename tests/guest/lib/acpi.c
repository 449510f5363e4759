/* ACPI for the test guests, found as an OS finds it: the RSDP in the BIOS
 * area, the XSDT (or RSDT), the FADT's PM1 blocks and FACS, and SLP_TYPa
 * of \_S3 read from the DSDT's AML; then suspend to RAM (lib/wake.S). */
#include "internal.h"

#define PM1_STS_WAK  0x8000
#define PM1_CNT_TYP  0x1c00
#define PM1_CNT_EN   0x2000
#define FACS_VECTOR  12
#define FACS_FLAGS   20
#define FACS_XVECTOR 24
#define FACS_OSPM    36
#define AML_NAME     0x08
#define AML_PACKAGE  0x12
#define AML_BYTE     0x0a

extern char wake_trampoline_start[], wake_trampoline_end[];
extern char wake_trampoline_gdtr[], gdt_ptr[];
extern char wake_entry_pm32[], wake_entry_long64[];
extern u32 s3_entry_mode, s3_entry_cs, s3_entry_eflags, s3_entry_cr0,
    s3_entry_efer;
int s3_enter(u16 port, u16 value);

static u32 get32(const u8 *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (u32)p[3] << 24;
}

static u64 get64(const u8 *p)
{
	return get32(p) | (u64)get32(p + 4) << 32;
}

static bool sum_ok(const u8 *p, u32 len)
{
	u8 s = 0;

	for (u32 i = 0; i < len; i++)
		s = (u8)(s + p[i]);
	return s == 0;
}

static const u8 *rsdp_find(void)
{
	for (u64 a = 0xE0000; a < 0x100000; a += 16) {
		const u8 *p = (const u8 *)a;

		if (!memcmp(p, "RSD PTR ", 8) && sum_ok(p, 20))
			return p;
	}
	return NULL;
}

const void *acpi_table(const char *sig)
{
	const u8 *rsdp = rsdp_find(), *root;
	bool x;
	u32 n;

	if (!rsdp)
		return NULL;
	x = rsdp[15] >= 2 && get64(rsdp + 24);
	root = (const u8 *)(x ? get64(rsdp + 24) : get32(rsdp + 16));
	if (!sum_ok(root, get32(root + 4)))
		return NULL;
	n = (get32(root + 4) - 36) / (x ? 8 : 4);
	for (u32 i = 0; i < n; i++) {
		const u8 *t = (const u8 *)(x ? get64(root + 36 + 8 * i)
					     : get32(root + 36 + 4 * i));

		if (!memcmp(t, sig, 4) && sum_ok(t, get32(t + 4)))
			return t;
	}
	return NULL;
}

/* SLP_TYPa of \_S3: Name (\_S3, Package (n) {SLP_TYPa, ...}). */
static int dsdt_s3_slp_typ(const u8 *dsdt)
{
	u32 len = get32(dsdt + 4);

	for (u32 i = 37; i + 9 < len; i++) {
		const u8 *p = dsdt + i;

		if (memcmp(p, "_S3_", 4) ||
		    !(p[-1] == AML_NAME || (p[-1] == '\\' && p[-2] == AML_NAME)))
			continue;
		if (p[4] != AML_PACKAGE || (p[5] & 0xc0))
			return -1; /* only the one-byte PkgLength form here */
		if (p[7] == AML_BYTE)
			return p[8];
		if (p[7] == 0x00 || p[7] == 0x01) /* ZeroOp, OneOp */
			return p[7];
		return -1;
	}
	return -1;
}

bool acpi_pm_find(struct acpi_pm *pm)
{
	const u8 *fadt = acpi_table("FACP"), *dsdt;
	u32 len;

	if (!fadt)
		return false;
	len = get32(fadt + 4);
	pm->pm1a_evt = (u16)get32(fadt + 56);
	pm->pm1a_cnt = (u16)get32(fadt + 64);
	pm->facs = (u8 *)(u64)get32(fadt + 36);
	if (len >= 140 && get64(fadt + 132))
		pm->facs = (u8 *)get64(fadt + 132);
	dsdt = (const u8 *)(u64)get32(fadt + 40);
	if (len >= 148 && get64(fadt + 140))
		dsdt = (const u8 *)get64(fadt + 140);
	if (!pm->facs || memcmp(pm->facs, "FACS", 4) || !dsdt ||
	    !sum_ok(dsdt, get32(dsdt + 4)))
		return false;
	pm->s3_slp_typ = dsdt_s3_slp_typ(dsdt);
	return pm->pm1a_evt && pm->pm1a_cnt;
}

/* Where the waking vector points, and in which mode the CPU gets there. */
static void s3_set_vector(const struct acpi_pm *pm, enum s3_vector via)
{
	u8 *facs = pm->facs;
	u64 x = 0;
	u32 real = 0, ospm = get32(facs + FACS_OSPM) & ~1u;

	switch (via) {
	case S3_VIA_REAL:
		memcpy((void *)WAKE_TRAMPOLINE_ADDR, wake_trampoline_start,
		       wake_trampoline_end - wake_trampoline_start);
		/* Limit and 32-bit base: what lgdtl reads in real mode. */
		memcpy((char *)WAKE_TRAMPOLINE_ADDR +
			   (wake_trampoline_gdtr - wake_trampoline_start),
		       gdt_ptr, 6);
		real = WAKE_TRAMPOLINE_ADDR;
		break;
	case S3_VIA_PM32:
		x = (u64)wake_entry_pm32;
		break;
	case S3_VIA_LONG64:
		if (!(get32(facs + FACS_FLAGS) & 2))
			guest_fail("FACS: the platform does not offer a 64-bit "
				   "waking vector (64BIT_WAKE_SUPPORTED_F)");
		x = (u64)wake_entry_long64;
		ospm |= 1; /* 64BIT_WAKE_F */
		break;
	}
	*(volatile u32 *)(facs + FACS_VECTOR) = real;
	*(volatile u64 *)(facs + FACS_XVECTOR) = x;
	*(volatile u32 *)(facs + FACS_OSPM) = ospm;
}

void acpi_s3_suspend(enum s3_vector via, struct s3_entry *entry)
{
	struct acpi_pm pm;
	u64 khz = tsc_khz(), deadline;
	u16 cnt;

	if (!acpi_pm_find(&pm))
		guest_fail("no usable FADT, FACS or DSDT");
	if (pm.s3_slp_typ < 0)
		guest_fail("the DSDT has no \\_S3 package");
	s3_set_vector(&pm, via);
	/* As ACPICA does: clear the status bits, write SLP_TYP, then
	 * SLP_TYP with SLP_EN. */
	outw(pm.pm1a_evt, 0xffff);
	cnt = (u16)(inw(pm.pm1a_cnt) & ~(PM1_CNT_TYP | PM1_CNT_EN));
	cnt |= (u16)(pm.s3_slp_typ << 10);
	outw(pm.pm1a_cnt, cnt);
	if (s3_enter(pm.pm1a_cnt, cnt | PM1_CNT_EN) == 0) {
		/* The VMM stops this CPU soon; it must never see WAK_STS
		 * here, only after coming back through the vector. */
		deadline = rdtsc() + 20000 * khz;
		while (rdtsc() < deadline) {
			if (inw(pm.pm1a_evt) & PM1_STS_WAK)
				guest_fail("WAK_STS set, but this CPU was not "
					   "reset to the waking vector");
			cpu_relax();
		}
		guest_fail("still running 20 s after SLP_TYP=S3, SLP_EN");
	}
	/* Back from S3: the CPU was reset, the tables are ours again. */
	cpu_setup(0);
	serial_init();
	pic_disable();
	entry->via = (enum s3_vector)s3_entry_mode;
	entry->cs = s3_entry_cs;
	entry->eflags = s3_entry_eflags;
	entry->cr0 = s3_entry_cr0;
	entry->efer = s3_entry_efer;
}

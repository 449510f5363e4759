/* The DSDT: the legacy devices a PC guest expects to find in the ACPI
 * namespace, and the sleeping states \_S0, \_S3 (suspend to RAM) and \_S5
 * (power off) that the PM device carries out.
 * Resource descriptors follow ACPI 6.4, 6.4 "Resource Data Types". */
#include "boot/aml.h"
#include "boot/boot_file.h"
#include "hyve/boot.h"
#include "hyve/pci.h"

#define RT_MAX 128

struct rt {
	uint8_t b[RT_MAX];
	size_t n;
};

/* I/O port descriptor (small item 0x08, 7 bytes): 16-bit decode, fixed. */
static void rt_io(struct rt *r, uint16_t base, uint8_t len)
{
	uint8_t *p = r->b + r->n;

	p[0] = 0x47;
	p[1] = 0x01; /* decodes 16 address bits */
	boot_put16(p + 2, base);
	boot_put16(p + 4, base);
	p[6] = 0x01; /* alignment */
	p[7] = len;
	r->n += 8;
}

/* IRQ descriptor without the flags byte (small item 0x04, 2 bytes):
 * edge-triggered, active high, as ISA interrupts are. */
static void rt_irq(struct rt *r, unsigned irq)
{
	uint8_t *p = r->b + r->n;

	p[0] = 0x22;
	boot_put16(p + 1, (uint16_t)(1U << irq));
	r->n += 3;
}

/* 32-bit fixed memory range descriptor (large item 0x06, 9 bytes). */
static void rt_mem32_fixed(struct rt *r, uint32_t base, uint32_t len,
			   int writable)
{
	uint8_t *p = r->b + r->n;

	p[0] = 0x86;
	boot_put16(p + 1, 9);
	p[3] = writable ? 1 : 0;
	boot_put32(p + 4, base);
	boot_put32(p + 8, len);
	r->n += 12;
}

/* End tag; a zero checksum means "treat the template as valid". */
static void rt_end(struct rt *r)
{
	r->b[r->n++] = 0x79;
	r->b[r->n++] = 0;
}

static void dsdt_device(struct aml *a, const char *name, const char *hid,
			int uid, const struct rt *crs)
{
	aml_device_open(a, name);
	aml_name(a, "_HID");
	aml_eisaid(a, hid);
	if (uid >= 0) {
		aml_name(a, "_UID");
		aml_integer(a, (uint64_t)uid);
	}
	aml_name(a, "_CRS");
	aml_buffer(a, crs->b, crs->n);
	aml_close(a);
}

static void dsdt_serial(struct aml *a, const char *name, int uid, uint16_t base,
			unsigned irq)
{
	struct rt r = {.n = 0};

	rt_io(&r, base, 8);
	rt_irq(&r, irq);
	rt_end(&r);
	dsdt_device(a, name, "PNP0501", uid, &r);
}

/* Word/DWord Address Space Descriptors (6.4.3.5.2-3) for a window the
 * bridge produces: _MIF and _MAF set, a producer (bit 0 clear). */
static void rt_word_window(struct rt *r, uint8_t kind, uint8_t type_flags, uint16_t min, uint16_t max)
{
	uint8_t *p = r->b + r->n;

	p[0] = 0x88;
	boot_put16(p + 1, 13);
	p[3] = kind; /* 1 I/O, 2 bus numbers */
	p[4] = 0x0c;
	p[5] = type_flags;
	boot_put16(p + 6, 0);
	boot_put16(p + 8, min);
	boot_put16(p + 10, max);
	boot_put16(p + 12, 0);
	boot_put16(p + 14, (uint16_t)(max - min + 1));
	r->n += 16;
}

static void rt_dword_memory(struct rt *r, uint32_t min, uint32_t len)
{
	uint8_t *p = r->b + r->n;

	p[0] = 0x87;
	boot_put16(p + 1, 23);
	p[3] = 0;    /* memory */
	p[4] = 0x0c;
	p[5] = 0x01; /* read-write, non-cacheable */
	boot_put32(p + 6, 0);
	boot_put32(p + 10, min);
	boot_put32(p + 14, min + len - 1);
	boot_put32(p + 18, 0);
	boot_put32(p + 22, len);
	r->n += 26;
}

/* The PCI host bridge (PCI Firmware 3.2, 4.1.1): its windows, and _PRT
 * for INTx (ACPI 6.4, 6.2.13): slot s pin p reaches GSI 16 + (s + p) % 8,
 * level-triggered, as pci_intx_gsi() drives it.  The ECAM area is claimed
 * by a motherboard resource device, where Linux looks for it (MCFG
 * alone is not enough for it to trust the area). */
static void dsdt_pci(struct aml *a)
{
	struct rt r = {.n = 0};

	aml_device_open(a, "PCI0");
	aml_name(a, "_HID");
	aml_eisaid(a, "PNP0A08");
	aml_name(a, "_CID");
	aml_eisaid(a, "PNP0A03");
	aml_name(a, "_SEG");
	aml_integer(a, 0);
	aml_name(a, "_UID");
	aml_integer(a, 0);
	aml_name(a, "_BBN");
	aml_integer(a, 0);
	rt_word_window(&r, 2, 0, 0, PCI_ECAM_LAST_BUS);
	rt_io(&r, PCI_CONFIG_ADDRESS_PORT, 8);
	rt_word_window(&r, 1, 0x03, 0x0000, 0x0cf7);
	rt_word_window(&r, 1, 0x03, 0x0d00, 0xffff);
	rt_dword_memory(&r, 0x000a0000, 0x20000); /* legacy VGA hole */
	rt_dword_memory(&r, (uint32_t)PCI_MMIO_BASE, (uint32_t)PCI_MMIO_SIZE);
	rt_end(&r);
	aml_name(a, "_CRS");
	aml_buffer(a, r.b, r.n);
	aml_name(a, "_PRT");
	aml_package_open(a, (PCI_NR_SLOTS - 1) * 4);
	for (unsigned slot = 1; slot < PCI_NR_SLOTS; slot++) {
		for (unsigned pin = 0; pin < 4; pin++) {
			aml_package_open(a, 4);
			aml_integer(a, ((uint64_t)slot << 16) | 0xffff);
			aml_integer(a, pin);
			aml_integer(a, 0);
			aml_integer(a, pci_intx_gsi(slot, pin));
			aml_close(a);
		}
	}
	aml_close(a);
	aml_close(a); /* PCI0 */

	r.n = 0;
	rt_mem32_fixed(&r, (uint32_t)PCI_ECAM_BASE, (uint32_t)PCI_ECAM_SIZE, 0);
	rt_end(&r);
	dsdt_device(a, "MRES", "PNP0C02", 0, &r);
}

static void dsdt_sleep_state(struct aml *a, const char *name, uint64_t typ)
{
	aml_name(a, name);
	aml_package_open(a, 4);
	aml_integer(a, typ);
	aml_integer(a, typ);
	aml_integer(a, 0);
	aml_integer(a, 0);
	aml_close(a);
}

size_t acpi_dsdt_body(uint8_t *buf, size_t cap)
{
	struct aml a;
	struct rt r;

	aml_init(&a, buf, cap);
	aml_scope_open(&a, "\\_SB");

	dsdt_serial(&a, "COM1", 1, 0x3f8, 4);
	dsdt_serial(&a, "COM2", 2, 0x2f8, 3);

	r.n = 0;
	rt_io(&r, 0x70, 2);
	rt_irq(&r, 8);
	rt_end(&r);
	dsdt_device(&a, "RTC", "PNP0B00", -1, &r);

	r.n = 0;
	rt_mem32_fixed(&r, ACPI_HPET_ADDR, ACPI_HPET_LEN, 0);
	rt_end(&r);
	dsdt_device(&a, "HPET", "PNP0103", 0, &r);

	dsdt_pci(&a);

	aml_close(&a); /* \_SB */

	/* Sleeping states (ACPI 6.4, 7.4.2): {SLP_TYPa, SLP_TYPb, 0, 0}.  S0
	 * working, S3 suspend to RAM, S5 soft off; no S1, S2 or S4. */
	dsdt_sleep_state(&a, "\\_S0", ACPI_SLP_TYP_S0);
	dsdt_sleep_state(&a, "\\_S3", ACPI_SLP_TYP_S3);
	dsdt_sleep_state(&a, "\\_S5", ACPI_SLP_TYP_S5);

	if (a.overflow || a.depth)
		return 0;
	return a.len;
}

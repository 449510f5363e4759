/* The DSDT: the legacy devices a PC guest expects to find in the ACPI
 * namespace, and \_S5 so that a guest "poweroff" reaches the PM device.
 * Resource descriptors follow ACPI 6.4, 6.4 "Resource Data Types". */
#include "boot/aml.h"
#include "boot/boot_file.h"
#include "hyve/boot.h"

#define RT_MAX 64

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

	aml_close(&a); /* \_SB */

	/* Sleeping state S5 (ACPI 6.4, 7.4.2): {SLP_TYPa, SLP_TYPb, 0, 0}. */
	aml_name(&a, "\\_S5");
	aml_package_open(&a, 4);
	aml_integer(&a, ACPI_SLP_TYP_S5);
	aml_integer(&a, ACPI_SLP_TYP_S5);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_close(&a);

	if (a.overflow || a.depth)
		return 0;
	return a.len;
}

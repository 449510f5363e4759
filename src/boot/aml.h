/* A small AML byte emitter (ACPI 6.x, chapter 20 "ACPI Machine Language
 * Specification") for the DSDT hyve builds by hand; no iasl at build time.
 * Not a public interface: used by src/boot/acpi_dsdt.c. */
#ifndef HYVE_BOOT_AML_H
#define HYVE_BOOT_AML_H

#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 16

struct aml {
	uint8_t *buf;
	size_t len, cap;
	size_t open[AML_MAX_DEPTH]; /* where each open PkgLength goes */
	unsigned depth;
	int overflow; /* set when anything did not fit; checked at the end */
};

void aml_init(struct aml *a, uint8_t *buf, size_t cap);
void aml_bytes(struct aml *a, const void *p, size_t n);
void aml_byte(struct aml *a, uint8_t b);
/* NameString: "\\_SB_", "COM1", "\\_SB_.COM1"; segments shorter than four
 * characters are padded with '_'. */
void aml_name_string(struct aml *a, const char *path);
/* Integer with the shortest encoding (ZeroOp, OneOp, Byte..QWordPrefix). */
void aml_integer(struct aml *a, uint64_t v);
void aml_string(struct aml *a, const char *s);
/* EISAID("PNP0501"): the compressed 32-bit EISA id as a DWord. */
void aml_eisaid(struct aml *a, const char *id);
/* Name(name, <value emitted next>) */
void aml_name(struct aml *a, const char *name);
/* Buffer(){bytes} */
void aml_buffer(struct aml *a, const uint8_t *bytes, size_t n);
/* Scope/Device/Package open a PkgLength that aml_close fills in. */
void aml_scope_open(struct aml *a, const char *name);
void aml_device_open(struct aml *a, const char *name);
void aml_package_open(struct aml *a, uint8_t nr_elements);
void aml_close(struct aml *a);

/* The DSDT's AML body (after the 36-byte table header): acpi_dsdt.c.
 * Returns the number of bytes written, 0 if `cap` is too small. */
size_t acpi_dsdt_body(uint8_t *buf, size_t cap);

#endif

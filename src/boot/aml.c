/* AML encoding (ACPI 6.4, 20.2): opcodes, PkgLength, NameString, data. */
#include <string.h>

#include "boot/aml.h"

#define AML_ZERO_OP	      0x00
#define AML_ONE_OP	      0x01
#define AML_NAME_OP	      0x08
#define AML_BYTE_PREFIX	      0x0A
#define AML_WORD_PREFIX	      0x0B
#define AML_DWORD_PREFIX      0x0C
#define AML_STRING_PREFIX     0x0D
#define AML_QWORD_PREFIX      0x0E
#define AML_SCOPE_OP	      0x10
#define AML_BUFFER_OP	      0x11
#define AML_PACKAGE_OP	      0x12
#define AML_EXT_OP_PREFIX     0x5B
#define AML_DEVICE_OP	      0x82 /* after ExtOpPrefix */
#define AML_ROOT_CHAR	      '\\'
#define AML_DUAL_NAME_PREFIX  0x2E
#define AML_MULTI_NAME_PREFIX 0x2F
#define AML_PKGLEN_MAX	      ((1U << 28) - 1)

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	memset(a, 0, sizeof(*a));
	a->buf = buf;
	a->cap = cap;
}

void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->overflow || n > a->cap - a->len) {
		a->overflow = 1;
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_name_seg(struct aml *a, const char *seg, size_t n)
{
	char s[4] = {'_', '_', '_', '_'};

	if (n == 0 || n > 4) {
		a->overflow = 1; /* a programming error: refuse to emit */
		return;
	}
	memcpy(s, seg, n);
	aml_bytes(a, s, 4);
}

void aml_name_string(struct aml *a, const char *path)
{
	const char *segs[8];
	size_t lens[8];
	unsigned n = 0;

	if (*path == AML_ROOT_CHAR)
		aml_byte(a, (uint8_t)*path++);
	while (*path && n < 8) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);

		segs[n] = path;
		lens[n++] = len;
		path += len + (dot ? 1 : 0);
	}
	if (n == 2)
		aml_byte(a, AML_DUAL_NAME_PREFIX);
	else if (n > 2) {
		aml_byte(a, AML_MULTI_NAME_PREFIX);
		aml_byte(a, (uint8_t)n);
	} else if (n == 0)
		aml_byte(a, 0); /* NullName */
	for (unsigned i = 0; i < n; i++)
		aml_name_seg(a, segs[i], lens[i]);
}

static void aml_le(struct aml *a, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0)
		aml_byte(a, AML_ZERO_OP);
	else if (v == 1)
		aml_byte(a, AML_ONE_OP);
	else if (v <= 0xff) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PREFIX);
	aml_bytes(a, s, strlen(s) + 1);
}

/* Three letters, five bits each ('A' = 1), then four hex digits; the two
 * halves are stored big-endian (ACPI 6.4, 19.6.43 EISAID). */
void aml_eisaid(struct aml *a, const char *id)
{
	static const char hex[] = "0123456789ABCDEF";
	uint32_t v = 0;

	if (strlen(id) != 7) {
		a->overflow = 1;
		return;
	}
	for (int i = 0; i < 3; i++)
		v = v << 5 | (uint32_t)((id[i] - '@') & 0x1f);
	for (int i = 3; i < 7; i++) {
		const char *h = strchr(hex, id[i]);

		v = v << 4 | (uint32_t)(h ? h - hex : 0);
	}
	aml_byte(a, AML_DWORD_PREFIX);
	aml_byte(a, (uint8_t)(v >> 24));
	aml_byte(a, (uint8_t)(v >> 16));
	aml_byte(a, (uint8_t)(v >> 8));
	aml_byte(a, (uint8_t)v);
}

void aml_name(struct aml *a, const char *name)
{
	aml_byte(a, AML_NAME_OP);
	aml_name_string(a, name);
}

static void aml_open(struct aml *a)
{
	if (a->depth >= AML_MAX_DEPTH) {
		a->overflow = 1;
		return;
	}
	a->open[a->depth++] = a->len;
}

/* PkgLength counts itself: one byte up to 63, else a lead byte with the
 * count of following bytes in bits 7:6 and the low nibble in bits 3:0. */
void aml_close(struct aml *a)
{
	size_t start, body, total;
	unsigned extra;
	uint8_t enc[4];

	if (a->overflow || a->depth == 0) {
		a->overflow = 1;
		return;
	}
	start = a->open[--a->depth];
	body = a->len - start;
	if (body + 1 <= 0x3f)
		extra = 0;
	else if (body + 2 <= 0xfff)
		extra = 1;
	else if (body + 3 <= 0xfffff)
		extra = 2;
	else
		extra = 3;
	total = body + 1 + extra;
	if (total > AML_PKGLEN_MAX || 1 + extra > a->cap - a->len) {
		a->overflow = 1;
		return;
	}
	if (extra == 0) {
		enc[0] = (uint8_t)total;
	} else {
		enc[0] = (uint8_t)(extra << 6 | (total & 0xf));
		for (unsigned i = 1; i <= extra; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	memmove(a->buf + start + 1 + extra, a->buf + start, body);
	memcpy(a->buf + start, enc, 1 + extra);
	a->len += 1 + extra;
}

void aml_scope_open(struct aml *a, const char *name)
{
	aml_byte(a, AML_SCOPE_OP);
	aml_open(a);
	aml_name_string(a, name);
}

void aml_device_open(struct aml *a, const char *name)
{
	aml_byte(a, AML_EXT_OP_PREFIX);
	aml_byte(a, AML_DEVICE_OP);
	aml_open(a);
	aml_name_string(a, name);
}

void aml_package_open(struct aml *a, uint8_t nr_elements)
{
	aml_byte(a, AML_PACKAGE_OP);
	aml_open(a);
	aml_byte(a, nr_elements);
}

void aml_buffer(struct aml *a, const uint8_t *bytes, size_t n)
{
	aml_byte(a, AML_BUFFER_OP);
	aml_open(a);
	aml_integer(a, n);
	aml_bytes(a, bytes, n);
	aml_close(a);
}

/* The AML emitter: PkgLength at its 1/2/3-byte boundaries, integers in
 * their shortest form, EISAID, NameStrings, and overflow refusal. */
#include <stdint.h>
#include <string.h>

#include "boot/aml.h"
#include "check.h"

/* Decodes a PkgLength: returns its value and the number of bytes used. */
static size_t pkglen_decode(const uint8_t *p, unsigned *nbytes)
{
	unsigned extra = p[0] >> 6;
	size_t v;

	if (extra == 0) {
		*nbytes = 1;
		return p[0] & 0x3f;
	}
	v = p[0] & 0xf;
	for (unsigned i = 1; i <= extra; i++)
		v |= (size_t)p[i] << (4 + 8 * (i - 1));
	*nbytes = 1 + extra;
	return v;
}

static void test_aml_pkglength_boundaries(void)
{
	static uint8_t buf[1 << 21], fill[1 << 20];
	/* Body sizes (after the opcode) around each encoding boundary. */
	static const size_t bodies[] = {0,    61,   62,	  63,	64,
					4092, 4093, 4094, 70000};

	for (unsigned i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct aml a;
		unsigned nb;
		size_t v;

		aml_init(&a, buf, sizeof(buf));
		aml_package_open(&a, 0); /* 0x12, PkgLength, NumElements */
		aml_bytes(&a, fill, bodies[i]);
		aml_close(&a);
		CHECK(!a.overflow);
		CHECK_EQ(buf[0], 0x12);
		v = pkglen_decode(buf + 1, &nb);
		/* PkgLength counts itself, NumElements and the body. */
		CHECK_EQ(v, nb + 1 + bodies[i]);
		CHECK_EQ(a.len, 1 + v);
		CHECK_EQ(nb, bodies[i] + 2 <= 63     ? 1
			     : bodies[i] + 3 <= 4095 ? 2
						     : 3);
	}
}

static void test_aml_integers_shortest_form(void)
{
	static const struct {
		uint64_t v;
		uint8_t enc[9];
		size_t n;
	} cases[] = {
	    {0, {0x00}, 1},
	    {1, {0x01}, 1},
	    {5, {0x0a, 0x05}, 2},
	    {0x3f8, {0x0b, 0xf8, 0x03}, 3},
	    {0xfed00000, {0x0c, 0x00, 0x00, 0xd0, 0xfe}, 5},
	    {0x100000000ULL, {0x0e, 0, 0, 0, 0, 1, 0, 0, 0}, 9},
	};
	uint8_t buf[16];

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aml a;

		aml_init(&a, buf, sizeof(buf));
		aml_integer(&a, cases[i].v);
		CHECK_EQ(a.len, cases[i].n);
		CHECK(memcmp(buf, cases[i].enc, cases[i].n) == 0);
	}
}

static void test_aml_eisaid_and_names(void)
{
	static const uint8_t pnp0501[] = {0x0c, 0x41, 0xd0, 0x05, 0x01};
	static const uint8_t root_sb[] = {'\\', '_', 'S', 'B', '_'};
	static const uint8_t dual[] = {'\\', 0x2e, '_', 'S', 'B',
				       '_',  'C',  'O', 'M', '1'};
	uint8_t buf[32];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_eisaid(&a, "PNP0501");
	CHECK_EQ(a.len, sizeof(pnp0501));
	CHECK(memcmp(buf, pnp0501, sizeof(pnp0501)) == 0);

	aml_init(&a, buf, sizeof(buf));
	aml_name_string(&a, "\\_SB");
	CHECK_EQ(a.len, sizeof(root_sb));
	CHECK(memcmp(buf, root_sb, sizeof(root_sb)) == 0);

	aml_init(&a, buf, sizeof(buf));
	aml_name_string(&a, "\\_SB.COM1");
	CHECK_EQ(a.len, sizeof(dual));
	CHECK(memcmp(buf, dual, sizeof(dual)) == 0);

	aml_init(&a, buf, sizeof(buf));
	aml_name_string(&a, "TOOLONG");
	CHECK(a.overflow);
}

static void test_aml_overflow_is_sticky(void)
{
	uint8_t buf[8];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_scope_open(&a, "\\_SB");
	aml_integer(&a, 0xfed00000); /* 6 + 5 bytes > 8 */
	aml_close(&a);
	CHECK(a.overflow);
	CHECK(a.len <= sizeof(buf));

	aml_init(&a, buf, sizeof(buf));
	aml_close(&a); /* close without open */
	CHECK(a.overflow);
}

static void test_aml_dsdt_body_balanced(void)
{
	static uint8_t buf[4096];
	size_t n = acpi_dsdt_body(buf, sizeof(buf));

	CHECK(n > 0);
	CHECK_EQ(acpi_dsdt_body(buf, 16), 0); /* too small: refused, not cut */
}

int main(void)
{
	RUN_TEST(test_aml_pkglength_boundaries);
	RUN_TEST(test_aml_integers_shortest_form);
	RUN_TEST(test_aml_eisaid_and_names);
	RUN_TEST(test_aml_overflow_is_sticky);
	RUN_TEST(test_aml_dsdt_body_balanced);
	return CHECK_DONE();
}

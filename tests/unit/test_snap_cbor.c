/* The inline CBOR encoder and decoder (src/snap/cbor.h) against libcbor:
 * same bytes out for every boundary value, same items back in, and the
 * items outside the snapshot profile refused by both. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "snap/cbor.h"

static const uint64_t cbor_edges[] = {
    0,
    1,
    23,
    24,
    25,
    0xff,
    0x100,
    0xffff,
    0x10000,
    0xffffffffULL,
    0x100000000ULL,
    0x7fffffffffffffffULL,
    0xffffffffffffffffULL,
};
#define NR_EDGES (sizeof(cbor_edges) / sizeof(cbor_edges[0]))

static void cbor_inline_encoder_matches_libcbor(void)
{
	struct snap_buf a = {0}, b = {0};
	static const char text[300] = "x";

	for (unsigned i = 0; i < NR_EDGES; i++) {
		uint64_t v = cbor_edges[i];

		cb_put_uint(&a, v);
		cb_ref_uint(&b, v);
		cb_put_int(&a, -(int64_t)(v >> 1) - 1);
		cb_ref_int(&b, -(int64_t)(v >> 1) - 1);
		if (v <= sizeof(text)) {
			cb_put_text(&a, text, (size_t)v);
			cb_ref_text(&b, text, (size_t)v);
			cb_put_bytes(&a, text, (size_t)v);
			cb_ref_bytes(&b, text, (size_t)v);
		}
		cb_put_array(&a, (size_t)v);
		cb_ref_array(&b, (size_t)v);
		cb_put_map(&a, (size_t)v);
		cb_ref_map(&b, (size_t)v);
	}
	cb_put_int(&a, INT64_MIN);
	cb_ref_int(&b, INT64_MIN);
	cb_put_bool(&a, true);
	cb_ref_bool(&b, true);
	cb_put_bool(&a, false);
	cb_ref_bool(&b, false);
	CHECK(!a.failed && !b.failed);
	CHECK_EQ(a.len, b.len);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	snap_buf_free(&a);
	snap_buf_free(&b);
}

/* Decodes `len` bytes item by item with both decoders; returns the number
 * of items both decoded alike, or -1 on any disagreement. */
static int cbor_decode_both(const uint8_t *d, size_t len)
{
	struct cb_in x = {d, d + len}, y = {d, d + len};
	struct cb_item i, j;
	int n = 0;

	for (;;) {
		int rx = cb_next(&x, &i), ry = cb_next_libcbor(&y, &j);

		if (rx != ry)
			return -1;
		if (rx)
			return n;
		if (i.kind != j.kind || x.p != y.p)
			return -1;
		if ((i.kind == CB_UINT || i.kind == CB_NEGINT ||
		     i.kind == CB_ARRAY || i.kind == CB_MAP) &&
		    i.u != j.u)
			return -1;
		if ((i.kind == CB_BYTES || i.kind == CB_TEXT) &&
		    (i.p != j.p || i.len != j.len))
			return -1;
		if (i.kind == CB_BOOL && i.b != j.b)
			return -1;
		n++;
	}
}

static void cbor_inline_decoder_matches_libcbor(void)
{
	struct snap_buf a = {0};

	for (unsigned i = 0; i < NR_EDGES; i++) {
		cb_put_uint(&a, cbor_edges[i]);
		cb_put_int(&a, -(int64_t)(cbor_edges[i] >> 1) - 1);
		cb_put_bool(&a, i & 1);
	}
	cb_put_text(&a, "hello", 5);
	cb_put_bytes(&a, "\0\1\2", 3);
	cb_put_array(&a, 1); /* counts are checked against the bytes left */
	cb_put_map(&a, 0);
	CHECK_EQ(cbor_decode_both(a.data, a.len), 3 * NR_EDGES + 4);
	/* Every truncation of that stream: both stop at the same item. */
	for (size_t n = 0; n < a.len; n++)
		CHECK(cbor_decode_both(a.data, n) >= 0);
	snap_buf_free(&a);
}

static void cbor_items_outside_the_profile_are_refused(void)
{
	static const uint8_t bad[][9] = {
	    {0xf6},			    /* null */
	    {0xf7},			    /* undefined */
	    {0xf9, 0x3c, 0x00},		    /* half float */
	    {0xfb, 0, 0, 0, 0, 0, 0, 0, 0}, /* double */
	    {0xc1, 0x00},		    /* tag 1 */
	    {0x5f, 0xff},		    /* indefinite byte string */
	    {0x9f, 0xff},		    /* indefinite array */
	    {0xbf, 0xff},		    /* indefinite map */
	    {0x1c},			    /* reserved additional info */
	    {0xff},			    /* lone break */
	    {0x43, 0x01},		    /* 3-byte string, 1 byte present */
	    {0x82, 0x01},		    /* array of 2, 1 byte left */
	    {0x1b, 0, 0, 0},		    /* truncated 8-byte integer */
	};
	static const size_t lens[] = {1, 1, 3, 9, 2, 2, 2, 2, 1, 1, 2, 2, 4};
	struct cb_in in;
	struct cb_item it;

	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		in = (struct cb_in){bad[i], bad[i] + lens[i]};
		CHECK(cb_next(&in, &it) != 0 ||
		      (it.kind == CB_ARRAY && i == 11));
		in = (struct cb_in){bad[i], bad[i] + lens[i]};
		CHECK_EQ(cb_skip(&in, 4), -EBADMSG);
	}
	CHECK(
	    !cb_utf8_valid((const uint8_t *)"\xc0\x80", 2)); /* overlong NUL */
	CHECK(
	    !cb_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3)); /* surrogate */
	CHECK(!cb_utf8_valid((const uint8_t *)"\xe2\x9c", 2));	 /* truncated */
	CHECK(
	    cb_utf8_valid((const uint8_t *)"\xe2\x9c\x93\xf0\x9f\x90\x9d", 7));
}

int main(void)
{
	RUN_TEST(cbor_inline_encoder_matches_libcbor);
	RUN_TEST(cbor_inline_decoder_matches_libcbor);
	RUN_TEST(cbor_items_outside_the_profile_are_refused);
	return CHECK_DONE();
}

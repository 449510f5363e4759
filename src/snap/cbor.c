/* The CBOR subset used by snapshot bodies.  The hot paths (cb_put_*,
 * cb_next) are inline in cbor.h; here are the growable buffer and libcbor-
 * based twins of both (cb_ref_*, cb_next_libcbor), the reference that
 * test_snap_cbor and the fuzzer compare the inline code against. */
#include <cbor.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snap/cbor.h"

int snap_buf_reserve(struct snap_buf *b, size_t more)
{
	size_t want, cap;
	uint8_t *p;

	if (b->failed)
		return -ENOMEM;
	if (more <= b->cap - b->len)
		return 0;
	if (more > SIZE_MAX / 2 - b->len)
		goto fail;
	want = b->len + more;
	cap = b->cap ? b->cap : 4096;
	while (cap < want)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		goto fail;
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->failed = true;
	return -ENOMEM;
}

void snap_buf_free(struct snap_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Every CBOR head is at most 9 bytes: reserve, then let libcbor encode. */
void cb_ref_uint(struct snap_buf *b, uint64_t v)
{
	if (cb_room(b, 9) == 0)
		b->len += cbor_encode_uint(v, b->data + b->len, 9);
}

void cb_ref_int(struct snap_buf *b, int64_t v)
{
	if (v >= 0) {
		cb_ref_uint(b, (uint64_t)v);
		return;
	}
	/* CBOR stores a negative n as -1 - n, which cannot overflow. */
	if (cb_room(b, 9) == 0)
		b->len +=
		    cbor_encode_negint((uint64_t)(-1 - v), b->data + b->len, 9);
}

void cb_ref_bool(struct snap_buf *b, bool v)
{
	if (cb_room(b, 1) == 0)
		b->len += cbor_encode_bool(v, b->data + b->len, 1);
}

void cb_ref_bytes(struct snap_buf *b, const void *p, size_t len)
{
	if (cb_room(b, 9 + len))
		return;
	b->len += cbor_encode_bytestring_start(len, b->data + b->len, 9);
	memcpy(b->data + b->len, p, len);
	b->len += len;
}

void cb_ref_text(struct snap_buf *b, const char *s, size_t len)
{
	if (cb_room(b, 9 + len))
		return;
	b->len += cbor_encode_string_start(len, b->data + b->len, 9);
	memcpy(b->data + b->len, s, len);
	b->len += len;
}

void cb_ref_array(struct snap_buf *b, size_t n)
{
	if (cb_room(b, 9) == 0)
		b->len += cbor_encode_array_start(n, b->data + b->len, 9);
}

void cb_ref_map(struct snap_buf *b, size_t n)
{
	if (cb_room(b, 9) == 0)
		b->len += cbor_encode_map_start(n, b->data + b->len, 9);
}

/* --- decoding: the callbacks store the one item decoded into ctx --- */

static void cb_on_uint8(void *c, uint8_t v)
{
	((struct cb_item *)c)->kind = CB_UINT;
	((struct cb_item *)c)->u = v;
}
static void cb_on_uint16(void *c, uint16_t v)
{
	((struct cb_item *)c)->kind = CB_UINT;
	((struct cb_item *)c)->u = v;
}
static void cb_on_uint32(void *c, uint32_t v)
{
	((struct cb_item *)c)->kind = CB_UINT;
	((struct cb_item *)c)->u = v;
}
static void cb_on_uint64(void *c, uint64_t v)
{
	((struct cb_item *)c)->kind = CB_UINT;
	((struct cb_item *)c)->u = v;
}
static void cb_on_neg8(void *c, uint8_t v)
{
	((struct cb_item *)c)->kind = CB_NEGINT;
	((struct cb_item *)c)->u = v;
}
static void cb_on_neg16(void *c, uint16_t v)
{
	((struct cb_item *)c)->kind = CB_NEGINT;
	((struct cb_item *)c)->u = v;
}
static void cb_on_neg32(void *c, uint32_t v)
{
	((struct cb_item *)c)->kind = CB_NEGINT;
	((struct cb_item *)c)->u = v;
}
static void cb_on_neg64(void *c, uint64_t v)
{
	((struct cb_item *)c)->kind = CB_NEGINT;
	((struct cb_item *)c)->u = v;
}

static void cb_on_bytes(void *c, cbor_data p, size_t len)
{
	struct cb_item *it = c;

	it->kind = CB_BYTES;
	it->p = p;
	it->len = len;
}

static void cb_on_text(void *c, cbor_data p, size_t len)
{
	struct cb_item *it = c;

	it->kind = CB_TEXT;
	it->p = p;
	it->len = len;
}

static void cb_on_array(void *c, size_t n)
{
	((struct cb_item *)c)->kind = CB_ARRAY;
	((struct cb_item *)c)->u = n;
}
static void cb_on_map(void *c, size_t n)
{
	((struct cb_item *)c)->kind = CB_MAP;
	((struct cb_item *)c)->u = n;
}

static void cb_on_bool(void *c, bool v)
{
	((struct cb_item *)c)->kind = CB_BOOL;
	((struct cb_item *)c)->b = v;
}

static void cb_on_bad(void *c)
{
	((struct cb_item *)c)->kind = CB_BAD;
}
static void cb_on_bad_u64(void *c, uint64_t v)
{
	(void)v;
	cb_on_bad(c);
}
static void cb_on_bad_f(void *c, float v)
{
	(void)v;
	cb_on_bad(c);
}
static void cb_on_bad_d(void *c, double v)
{
	(void)v;
	cb_on_bad(c);
}

static const struct cbor_callbacks cb_callbacks = {
    .uint8 = cb_on_uint8,
    .uint16 = cb_on_uint16,
    .uint32 = cb_on_uint32,
    .uint64 = cb_on_uint64,
    .negint8 = cb_on_neg8,
    .negint16 = cb_on_neg16,
    .negint32 = cb_on_neg32,
    .negint64 = cb_on_neg64,
    .byte_string = cb_on_bytes,
    .byte_string_start = cb_on_bad,
    .string = cb_on_text,
    .string_start = cb_on_bad,
    .array_start = cb_on_array,
    .indef_array_start = cb_on_bad,
    .map_start = cb_on_map,
    .indef_map_start = cb_on_bad,
    .tag = cb_on_bad_u64,
    .float2 = cb_on_bad_f,
    .float4 = cb_on_bad_f,
    .float8 = cb_on_bad_d,
    .undefined = cb_on_bad,
    .null = cb_on_bad,
    .boolean = cb_on_bool,
    .indef_break = cb_on_bad,
};

int cb_next_libcbor(struct cb_in *in, struct cb_item *it)
{
	struct cbor_decoder_result res;
	size_t left = (size_t)(in->end - in->p);

	it->kind = CB_BAD;
	if (left == 0)
		return -EBADMSG;
	res = cbor_stream_decode(in->p, left, &cb_callbacks, it);
	if (res.status != CBOR_DECODER_FINISHED || res.read == 0 ||
	    res.read > left) {
		it->kind = CB_BAD;
		return -EBADMSG;
	}
	in->p += res.read;
	left -= res.read;
	if (it->kind == CB_BAD)
		return -EBADMSG;
	/* Bound every later loop by the input: an element is >= 1 byte. */
	if ((it->kind == CB_ARRAY && it->u > left) ||
	    (it->kind == CB_MAP && it->u > left / 2))
		return -EBADMSG;
	return 0;
}

int cb_skip(struct cb_in *in, unsigned depth_left)
{
	struct cb_item it;
	uint64_t n, i;

	if (cb_next(in, &it))
		return -EBADMSG;
	if (it.kind != CB_ARRAY && it.kind != CB_MAP)
		return 0;
	if (depth_left == 0)
		return -EBADMSG;
	n = it.kind == CB_MAP ? it.u * 2 : it.u;
	for (i = 0; i < n; i++)
		if (cb_skip(in, depth_left - 1))
			return -EBADMSG;
	return 0;
}

/* RFC 3629: shortest forms only, no surrogates, at most U+10FFFF. */
bool cb_utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i];
		unsigned n;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (unsigned k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

const char *cb_kind_name(enum cb_kind k)
{
	static const char *const names[] = {
	    [CB_UINT] = "unsigned integer",
	    [CB_NEGINT] = "negative integer",
	    [CB_BYTES] = "byte string",
	    [CB_TEXT] = "text string",
	    [CB_ARRAY] = "array",
	    [CB_MAP] = "map",
	    [CB_BOOL] = "boolean",
	    [CB_BAD] = "item outside the snapshot CBOR profile",
	};
	return names[k];
}

const char *snap_ft_name(unsigned ft)
{
	static const char *const names[] = {
	    [FT_U8] = "u8",	    [FT_U16] = "u16",
	    [FT_U32] = "u32",	    [FT_U64] = "u64",
	    [FT_I8] = "i8",	    [FT_I16] = "i16",
	    [FT_I32] = "i32",	    [FT_I64] = "i64",
	    [FT_BOOL] = "bool",	    [FT_BYTES] = "bytes",
	    [FT_STRING] = "string", [FT_STRUCT] = "struct",
	};
	if (ft >= sizeof(names) / sizeof(names[0]) || !names[ft])
		return "?";
	return names[ft];
}

void snap_tc_describe(char *buf, size_t size, unsigned tcode, size_t count)
{
	const char *t = snap_ft_name(tcode & SNAP_TC_TYPE_MASK);

	if (!(tcode & SNAP_TC_ARRAY))
		snprintf(buf, size, "%s", t);
	else if (count)
		snprintf(buf, size, "%s[%zu]", t, count);
	else
		snprintf(buf, size, "%s[]", t);
}

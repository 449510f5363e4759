/* Internal: the CBOR subset of docs/snapshot-format.md §4, as a small
 * append-only encoder over struct snap_buf and a pull decoder built on
 * libcbor's streaming decoder (no allocation per item). */
#ifndef HYVE_SNAP_CBOR_H
#define HYVE_SNAP_CBOR_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hyve/snapshot.h"

enum cb_kind {
	CB_UINT,
	CB_NEGINT, /* value is -1 - u */
	CB_BYTES,
	CB_TEXT,
	CB_ARRAY, /* u = element count */
	CB_MAP,	  /* u = pair count */
	CB_BOOL,
	CB_BAD, /* outside the profile: indefinite, tag, float, null... */
};

struct cb_item {
	enum cb_kind kind;
	uint64_t u;
	const uint8_t *p; /* CB_BYTES, CB_TEXT */
	size_t len;
	bool b;
};

struct cb_in {
	const uint8_t *p, *end;
};

/* Decodes the next item head: 0, or -EBADMSG for truncated input or an
 * item outside the profile (it->kind is CB_BAD then).  Byte and text
 * strings are checked to fit in the input; array/map counts are checked
 * against the bytes left (each element takes at least one byte).
 *
 * The head (RFC 8949 §3) is decoded inline: the hot loop of a restore
 * meets ~50,000 items per 64-vCPU machine, and a callback per item through
 * libcbor's cbor_stream_decode cost more than the whole 1 ms budget's
 * share.  cb_next_libcbor() is the same function on top of libcbor; the
 * fuzzer checks that both agree on every input. */
static inline int cb_next(struct cb_in *in, struct cb_item *it)
{
	size_t left = (size_t)(in->end - in->p);
	const uint8_t *p = in->p;
	unsigned major, ai, n;
	uint64_t v;

	*it = (struct cb_item){.kind = CB_BAD};
	if (left == 0)
		return -EBADMSG;
	major = p[0] >> 5;
	ai = p[0] & 0x1f;
	if (major == 7) {
		if (ai != 20 && ai != 21)
			return -EBADMSG; /* floats, null, undefined, break... */
		it->kind = CB_BOOL;
		it->b = ai == 21;
		in->p++;
		return 0;
	}
	if (ai < 24) {
		v = ai;
		n = 0;
	} else if (ai <= 27) {
		n = 1u << (ai - 24);
		if (left - 1 < n)
			return -EBADMSG;
		v = 0;
		for (unsigned i = 1; i <= n; i++)
			v = v << 8 | p[i];
	} else {
		return -EBADMSG; /* reserved, or indefinite length */
	}
	left -= 1 + n;
	p += 1 + n;
	switch (major) {
	case 0:
		it->kind = CB_UINT;
		break;
	case 1:
		it->kind = CB_NEGINT;
		break;
	case 2:
	case 3:
		if (v > left)
			return -EBADMSG;
		it->kind = major == 2 ? CB_BYTES : CB_TEXT;
		it->p = p;
		it->len = (size_t)v;
		p += v;
		break;
	case 4:
		if (v > left)
			return -EBADMSG;
		it->kind = CB_ARRAY;
		break;
	case 5:
		if (v > left / 2)
			return -EBADMSG;
		it->kind = CB_MAP;
		break;
	default:
		return -EBADMSG; /* tags */
	}
	it->u = v;
	in->p = p;
	return 0;
}

int cb_next_libcbor(struct cb_in *in, struct cb_item *it);
/* Skips one whole item (nested up to depth_left levels). */
int cb_skip(struct cb_in *in, unsigned depth_left);
bool cb_utf8_valid(const uint8_t *p, size_t len);
const char *cb_kind_name(enum cb_kind k);

/* The common case inline: room is there. */
static inline int cb_room(struct snap_buf *b, size_t n)
{
	return (!b->failed && n <= b->cap - b->len) ? 0
						    : snap_buf_reserve(b, n);
}

/* Encoding, inline for the same reason as cb_next: an item head is one to
 * nine bytes, the shortest form (RFC 8949 §4.2.1, preferred serialization).
 * The cb_ref_* twins in cbor.c are libcbor's encoder; test_snap_cbor
 * checks that both produce the same bytes. */
static inline void cb_put_head(struct snap_buf *b, unsigned major, uint64_t v)
{
	uint8_t *p;
	unsigned n;

	if (cb_room(b, 9))
		return;
	p = b->data + b->len;
	if (v < 24) {
		p[0] = (uint8_t)(major << 5 | v);
		b->len += 1;
		return;
	}
	n = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffff ? 4 : 8;
	p[0] = (uint8_t)(major << 5 | (n == 1	? 24
				       : n == 2 ? 25
				       : n == 4 ? 26
						: 27));
	for (unsigned i = 0; i < n; i++)
		p[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	b->len += 1 + n;
}

static inline void cb_put_uint(struct snap_buf *b, uint64_t v)
{
	cb_put_head(b, 0, v);
}

/* CBOR stores a negative n as -1 - n, which cannot overflow. */
static inline void cb_put_int(struct snap_buf *b, int64_t v)
{
	if (v >= 0)
		cb_put_head(b, 0, (uint64_t)v);
	else
		cb_put_head(b, 1, (uint64_t)(-1 - v));
}

static inline void cb_put_bool(struct snap_buf *b, bool v)
{
	if (cb_room(b, 1) == 0)
		b->data[b->len++] = v ? 0xf5 : 0xf4;
}

static inline void cb_put_string(struct snap_buf *b, unsigned major,
				 const void *p, size_t len)
{
	cb_put_head(b, major, len);
	if (len && cb_room(b, len) == 0) {
		memcpy(b->data + b->len, p, len);
		b->len += len;
	}
}

static inline void cb_put_bytes(struct snap_buf *b, const void *p, size_t len)
{
	cb_put_string(b, 2, p, len);
}

static inline void cb_put_text(struct snap_buf *b, const char *s, size_t len)
{
	cb_put_string(b, 3, s, len);
}

static inline void cb_put_array(struct snap_buf *b, size_t n)
{
	cb_put_head(b, 4, n);
}

static inline void cb_put_map(struct snap_buf *b, size_t n)
{
	cb_put_head(b, 5, n);
}

/* libcbor's encoder behind the same interface (reference for tests). */
void cb_ref_uint(struct snap_buf *b, uint64_t v);
void cb_ref_int(struct snap_buf *b, int64_t v);
void cb_ref_bool(struct snap_buf *b, bool v);
void cb_ref_bytes(struct snap_buf *b, const void *p, size_t len);
void cb_ref_text(struct snap_buf *b, const char *s, size_t len);
void cb_ref_array(struct snap_buf *b, size_t n);
void cb_ref_map(struct snap_buf *b, size_t n);

/* Type names for messages and JSON: "u32", "bytes", "struct". */
const char *snap_ft_name(unsigned ft);
/* "u32", "u32[]", "u32[8]" (count > 0 shows a fixed size). */
void snap_tc_describe(char *buf, size_t size, unsigned tcode, size_t count);

#endif

/* Internal: helpers shared by the state-table encoder (fields.c) and
 * decoder (fields_decode.c). */
#ifndef HYVE_SNAP_FIELDS_H
#define HYVE_SNAP_FIELDS_H

#include <string.h>

#include "snap/cbor.h"

static inline bool fields_is_array(const struct state_field *f)
{
	return f->count != 1 || (f->flags & FF_VARCOUNT);
}

static inline unsigned fields_tcode(const struct state_field *f)
{
	return f->type | (fields_is_array(f) ? SNAP_TC_ARRAY : 0) |
	       ((f->flags & FF_OPTIONAL) ? SNAP_TC_OPTIONAL : 0);
}

static inline size_t fields_int_width(enum field_type t)
{
	switch (t) {
	case FT_U8:
	case FT_I8:
	case FT_BOOL:
		return 1;
	case FT_U16:
	case FT_I16:
		return 2;
	case FT_U32:
	case FT_I32:
		return 4;
	case FT_U64:
	case FT_I64:
		return 8;
	default:
		return 0;
	}
}

static inline bool fields_is_signed(enum field_type t)
{
	return t >= FT_I8 && t <= FT_I64;
}

/* Checks a table (and its nested tables) against itself: types, sizes and
 * offsets inside the struct.  0 or -EINVAL naming the field. */
int fields_check_table(const struct state_desc *d, unsigned depth,
		       struct hyve_err *err);

static inline unsigned fields_count(const struct state_desc *d)
{
	unsigned n = 0;

	while (d->fields[n].name)
		n++;
	return n;
}

static inline uint64_t fields_load_uint(const uint8_t *p, size_t w)
{
	uint8_t a;
	uint16_t b;
	uint32_t c;
	uint64_t d;

	switch (w) {
	case 1:
		memcpy(&a, p, 1);
		return a;
	case 2:
		memcpy(&b, p, 2);
		return b;
	case 4:
		memcpy(&c, p, 4);
		return c;
	default:
		memcpy(&d, p, 8);
		return d;
	}
}

static inline int64_t fields_load_int(const uint8_t *p, size_t w)
{
	int8_t a;
	int16_t b;
	int32_t c;
	int64_t d;

	switch (w) {
	case 1:
		memcpy(&a, p, 1);
		return a;
	case 2:
		memcpy(&b, p, 2);
		return b;
	case 4:
		memcpy(&c, p, 4);
		return c;
	default:
		memcpy(&d, p, 8);
		return d;
	}
}

/* Stores the low w bytes of v (two's complement for signed types). */
static inline void fields_store(uint8_t *p, size_t w, uint64_t v)
{
	uint8_t a = (uint8_t)v;
	uint16_t b = (uint16_t)v;
	uint32_t c = (uint32_t)v;

	switch (w) {
	case 1:
		memcpy(p, &a, 1);
		break;
	case 2:
		memcpy(p, &b, 2);
		break;
	case 4:
		memcpy(p, &c, 4);
		break;
	default:
		memcpy(p, &v, 8);
		break;
	}
}

#endif

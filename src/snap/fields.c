/* The state-table encoder: a struct described by a `struct state_desc` is
 * written as a CBOR map of named, typed fields (docs/snapshot-format.md
 * §4.2); fields_decode.c reads it back. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "snap/fields.h"

/* A table that disagrees with itself is a programming error, but checking
 * it (once per encode/decode call, nested tables included) keeps a bad
 * table from reading or writing outside the struct. */
int fields_check_table(const struct state_desc *d, unsigned depth,
		       struct hyve_err *err)
{
	const struct state_desc *last = NULL;
	unsigned n;

	if (depth > SNAP_DEPTH_MAX / 2)
		return err_set(err, EINVAL, "state table '%s' nests too deeply",
			       d->name);
	for (n = 0; d->fields[n].name; n++) {
		const struct state_field *f = &d->fields[n];
		size_t w = fields_int_width(f->type);

		if (n >= SNAP_FIELDS_MAX)
			return err_set(
			    err, EINVAL,
			    "state table '%s' has more than %u fields", d->name,
			    SNAP_FIELDS_MAX);
		if (f->type < FT_U8 || f->type > FT_STRUCT ||
		    (w && f->size != w) ||
		    (f->type == FT_STRUCT &&
		     (!f->sub || f->sub->size != f->size)) ||
		    f->size == 0 || f->count == 0 || f->offset > d->size ||
		    f->count > (d->size - f->offset) / f->size ||
		    ((f->flags & FF_VARCOUNT) && f->count_offset + 4 > d->size))
			return err_set(
			    err, EINVAL,
			    "state table '%s': field '%s' is malformed",
			    d->name, f->name);
		/* Tables often repeat one sub-table (eight segments). */
		if (f->type == FT_STRUCT && f->sub != last &&
		    fields_check_table(f->sub, depth + 1, err))
			return -EINVAL;
		if (f->type == FT_STRUCT)
			last = f->sub;
	}
	return 0;
}

static int fields_encode_map(struct snap_buf *b, const struct state_desc *d,
			     const uint8_t *base, struct hyve_err *err);

static int fields_encode_elem(struct snap_buf *b, const struct state_field *f,
			      const uint8_t *p, struct hyve_err *err)
{
	size_t len;

	switch (f->type) {
	case FT_BOOL:
		cb_put_bool(b, p[0] != 0);
		return 0;
	case FT_BYTES:
		cb_put_bytes(b, p, f->size);
		return 0;
	case FT_STRING:
		len = strnlen((const char *)p, f->size);
		if (len == f->size)
			return err_set(
			    err, EINVAL,
			    "field '%s': string is not NUL-terminated",
			    f->name);
		if (!cb_utf8_valid(p, len))
			return err_set(err, EINVAL,
				       "field '%s': string is not valid UTF-8",
				       f->name);
		cb_put_text(b, (const char *)p, len);
		return 0;
	case FT_STRUCT:
		return fields_encode_map(b, f->sub, p, err);
	default:
		if (fields_is_signed(f->type))
			cb_put_int(b, fields_load_int(p, f->size));
		else
			cb_put_uint(b, fields_load_uint(p, f->size));
		return 0;
	}
}

static int fields_encode_map(struct snap_buf *b, const struct state_desc *d,
			     const uint8_t *base, struct hyve_err *err)
{
	unsigned nr = fields_count(d), i;
	int ret;

	cb_put_map(b, nr);
	for (i = 0; i < nr; i++) {
		const struct state_field *f = &d->fields[i];
		uint32_t n = f->count;

		cb_put_text(b, f->name, strlen(f->name));
		cb_put_array(b, f->type == FT_STRUCT ? 3 : 2);
		cb_put_uint(b, fields_tcode(f));
		if (f->type == FT_STRUCT)
			cb_put_uint(b, f->sub->version);
		if (f->flags & FF_VARCOUNT) {
			memcpy(&n, base + f->count_offset, sizeof(n));
			if (n > f->count)
				return err_set(err, EINVAL,
					       "field '%s': %" PRIu32
					       " elements, capacity %" PRIu32,
					       f->name, n, f->count);
		}
		if (fields_is_array(f))
			cb_put_array(b, n);
		for (uint32_t k = 0; k < n; k++) {
			ret = fields_encode_elem(
			    b, f, base + f->offset + (size_t)k * f->size, err);
			if (ret)
				return ret;
		}
	}
	return b->failed ? err_set(err, ENOMEM, "out of memory encoding '%s'",
				   d->name)
			 : 0;
}

int snap_fields_encode(struct snap_buf *b, const struct state_desc *desc,
		       const void *state, struct hyve_err *err)
{
	int ret = fields_check_table(desc, 0, err);

	return ret ? ret : fields_encode_map(b, desc, state, err);
}

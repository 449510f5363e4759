/* The state-table decoder: a field map is read back by name into a zeroed
 * staging struct (docs/snapshot-format.md §4.3).  It writes only inside the
 * staging struct, bounded by the table, and names the field in every
 * error. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "snap/fields.h"

static int fields_decode_map(struct cb_in *in, const struct state_desc *d,
			     unsigned file_version, uint8_t *base,
			     unsigned depth, struct hyve_err *err);

static int fields_bad(const struct state_field *f, struct hyve_err *err)
{
	return err_set(err, EBADMSG, "field '%s': malformed value", f->name);
}

static int fields_decode_int(const struct state_field *f,
			     const struct cb_item *it, uint8_t *p,
			     struct hyve_err *err)
{
	unsigned bits = (unsigned)f->size * 8;
	uint64_t max = bits == 64 ? UINT64_MAX : (1ULL << bits) - 1;

	if (fields_is_signed(f->type)) {
		max >>= 1; /* both 2^(w-1)-1 and the magnitude of -2^(w-1) minus
			      one */
		if ((it->kind != CB_UINT && it->kind != CB_NEGINT) ||
		    it->u > max)
			goto out_range;
		fields_store(p, f->size, it->kind == CB_UINT ? it->u : ~it->u);
		return 0;
	}
	if (it->kind != CB_UINT || it->u > max)
		goto out_range;
	fields_store(p, f->size, it->u);
	return 0;
out_range:
	if (it->kind == CB_UINT)
		return err_set(err, ERANGE,
			       "field '%s': value %" PRIu64 " does not fit %s",
			       f->name, it->u, snap_ft_name(f->type));
	if (it->kind == CB_NEGINT)
		return err_set(err, ERANGE,
			       "field '%s': value -%" PRIu64
			       "-1 does not fit %s",
			       f->name, it->u, snap_ft_name(f->type));
	return err_set(err, EBADMSG, "field '%s': %s where %s expected",
		       f->name, cb_kind_name(it->kind), snap_ft_name(f->type));
}

static int fields_decode_elem(struct cb_in *in, const struct state_field *f,
			      unsigned subver, uint8_t *p, unsigned depth,
			      struct hyve_err *err)
{
	struct cb_item it;

	if (f->type == FT_STRUCT)
		return fields_decode_map(in, f->sub, subver, p, depth, err);
	if (cb_next(in, &it))
		return fields_bad(f, err);
	switch (f->type) {
	case FT_BOOL:
		if (it.kind != CB_BOOL)
			return err_set(err, EBADMSG,
				       "field '%s': %s where bool expected",
				       f->name, cb_kind_name(it.kind));
		p[0] = it.b;
		return 0;
	case FT_BYTES:
		if (it.kind != CB_BYTES)
			return err_set(err, EBADMSG,
				       "field '%s': %s where bytes expected",
				       f->name, cb_kind_name(it.kind));
		if (it.len != f->size)
			return err_set(err, EMSGSIZE,
				       "field '%s': file has bytes[%zu], this "
				       "hyve expects bytes[%zu]",
				       f->name, it.len, f->size);
		memcpy(p, it.p, it.len);
		return 0;
	case FT_STRING:
		if (it.kind != CB_TEXT)
			return err_set(err, EBADMSG,
				       "field '%s': %s where string expected",
				       f->name, cb_kind_name(it.kind));
		if (it.len >= f->size)
			return err_set(err, EMSGSIZE,
				       "field '%s': string of %zu bytes, this "
				       "hyve holds at most %zu",
				       f->name, it.len, f->size - 1);
		if (memchr(it.p, 0, it.len) || !cb_utf8_valid(it.p, it.len))
			return err_set(
			    err, EBADMSG,
			    "field '%s': string has a NUL or invalid UTF-8",
			    f->name);
		memcpy(p, it.p, it.len);
		p[it.len] = '\0';
		return 0;
	default:
		return fields_decode_int(f, &it, p, err);
	}
}

static int fields_decode_value(struct cb_in *in, const struct state_field *f,
			       unsigned tcode, unsigned n_items, uint8_t *base,
			       unsigned depth, struct hyve_err *err)
{
	char have[32], want[32];
	unsigned expect = fields_tcode(f) & ~SNAP_TC_OPTIONAL;
	unsigned subver = 0;
	struct cb_item it;
	uint64_t n = 1;
	int ret;

	if ((tcode & ~SNAP_TC_OPTIONAL) != expect) {
		snap_tc_describe(have, sizeof(have), tcode, 0);
		snap_tc_describe(want, sizeof(want), expect, 0);
		return err_set(err, EBADMSG,
			       "field '%s': file has %s, this hyve expects %s",
			       f->name, have, want);
	}
	if (n_items != (f->type == FT_STRUCT ? 3u : 2u))
		return fields_bad(f, err);
	if (f->type == FT_STRUCT) {
		if (cb_next(in, &it) || it.kind != CB_UINT || it.u == 0 ||
		    it.u > UINT16_MAX)
			return fields_bad(f, err);
		subver = (unsigned)it.u;
		if (subver < f->sub->min_version)
			return err_set(err, EBADMSG,
				       "field '%s': struct '%s' v%u is older "
				       "than the oldest this hyve loads (v%u)",
				       f->name, f->sub->name, subver,
				       f->sub->min_version);
	}
	if (expect & SNAP_TC_ARRAY) {
		if (cb_next(in, &it) || it.kind != CB_ARRAY)
			return fields_bad(f, err);
		n = it.u;
		if (f->flags & FF_VARCOUNT) {
			if (n > f->count)
				return err_set(err, EMSGSIZE,
					       "field '%s': file has %" PRIu64
					       " elements, this hyve holds at "
					       "most %" PRIu32,
					       f->name, n, f->count);
			fields_store(base + f->count_offset, 4, n);
		} else if (n != f->count) {
			snap_tc_describe(have, sizeof(have), expect, n);
			snap_tc_describe(want, sizeof(want), expect, f->count);
			return err_set(
			    err, EMSGSIZE,
			    "field '%s': file has %s, this hyve expects %s",
			    f->name, have, want);
		}
	}
	for (uint64_t k = 0; k < n; k++) {
		ret = fields_decode_elem(
		    in, f, subver, base + f->offset + k * f->size, depth, err);
		if (ret) {
			if (f->type == FT_STRUCT)
				err_prefix(
				    err, "in '%s'[%" PRIu64 "]: ", f->name, k);
			return ret;
		}
	}
	return 0;
}

static int fields_find(const struct state_desc *d, unsigned nr, unsigned hint,
		       const struct cb_item *key)
{
	for (unsigned k = 0; k < nr; k++) {
		unsigned i = (hint + k) % nr;
		const char *name = d->fields[i].name;

		/* Not strncmp: a key may hold a NUL byte, which would end
		 * the comparison early and send name[len] past the name. */
		if (strnlen(name, key->len + 1) == key->len &&
		    memcmp(name, key->p, key->len) == 0)
			return (int)i;
	}
	return -1;
}

static bool fields_name_ok(const struct cb_item *key)
{
	if (key->kind != CB_TEXT || key->len == 0 || key->len > SNAP_NAME_MAX)
		return false;
	for (size_t i = 0; i < key->len; i++) {
		uint8_t c = key->p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static int fields_decode_map(struct cb_in *in, const struct state_desc *d,
			     unsigned file_version, uint8_t *base,
			     unsigned depth, struct hyve_err *err)
{
	uint64_t seen[SNAP_FIELDS_MAX / 64] = {0};
	struct cb_item it, key;
	unsigned nr = fields_count(d), i, next = 0;
	int ret, idx;

	if (depth > SNAP_DEPTH_MAX)
		return err_set(err, EBADMSG, "struct '%s' nested too deeply",
			       d->name);
	if (cb_next(in, &it) || it.kind != CB_MAP || it.u > SNAP_FIELDS_MAX)
		return err_set(err, EBADMSG, "struct '%s': malformed field map",
			       d->name);
	for (uint64_t k = 0; k < it.u; k++) {
		struct cb_item val, tc;

		if (cb_next(in, &key) || key.kind != CB_TEXT)
			return err_set(err, EBADMSG,
				       "struct '%s': malformed field name",
				       d->name);
		if (cb_next(in, &val) || val.kind != CB_ARRAY || val.u < 2 ||
		    val.u > 3 || cb_next(in, &tc) || tc.kind != CB_UINT ||
		    tc.u > 0x7f || (tc.u & SNAP_TC_TYPE_MASK) < FT_U8 ||
		    (tc.u & SNAP_TC_TYPE_MASK) > FT_STRUCT)
			return err_set(err, EBADMSG,
				       "field '%.*s': malformed type",
				       (int)key.len, key.p);
		idx = fields_find(d, nr, next, &key);
		/* A known name is valid by construction; an unknown one is
		 * checked before it is printed in a message. */
		if (idx < 0 && !fields_name_ok(&key))
			return err_set(err, EBADMSG,
				       "struct '%s': malformed field name",
				       d->name);
		if (idx < 0) {
			if (!(tc.u & SNAP_TC_OPTIONAL))
				return err_set(err, ENOENT,
					       "unknown field '%.*s' (not "
					       "marked optional)",
					       (int)key.len, key.p);
			for (uint64_t s = 1; s < val.u; s++)
				if (cb_skip(in, SNAP_DEPTH_MAX))
					return err_set(
					    err, EBADMSG,
					    "field '%.*s': malformed value",
					    (int)key.len, key.p);
			continue;
		}
		if (seen[idx / 64] & (1ULL << (idx % 64)))
			return err_set(err, EBADMSG, "field '%s' appears twice",
				       d->fields[idx].name);
		seen[idx / 64] |= 1ULL << (idx % 64);
		next = (unsigned)idx + 1;
		ret =
		    fields_decode_value(in, &d->fields[idx], (unsigned)tc.u,
					(unsigned)val.u, base, depth + 1, err);
		if (ret)
			return ret;
	}
	for (i = 0; i < nr; i++) {
		const struct state_field *f = &d->fields[i];

		if (seen[i / 64] & (1ULL << (i % 64)))
			continue;
		if (f->since <= file_version)
			return err_set(
			    err, ENOENT,
			    "field '%s' (since v%u) is missing from '%s' v%u",
			    f->name, f->since, d->name, file_version);
		if (f->count == 1 && !(f->flags & FF_VARCOUNT) &&
		    fields_int_width(f->type))
			fields_store(base + f->offset, f->size,
				     f->type == FT_BOOL ? f->def != 0 : f->def);
	}
	return 0;
}

int snap_fields_decode(const uint8_t *data, size_t len,
		       const struct state_desc *desc, unsigned file_version,
		       void *staging, struct hyve_err *err)
{
	struct cb_in in = {data, data + len};
	int ret;

	memset(staging, 0, desc->size);
	ret = fields_check_table(desc, 0, err);
	if (!ret)
		ret =
		    fields_decode_map(&in, desc, file_version, staging, 0, err);
	if (ret == 0 && in.p != in.end)
		ret = err_set(err, EBADMSG,
			      "%zu trailing bytes after the fields of '%s'",
			      (size_t)(in.end - in.p), desc->name);
	return ret;
}

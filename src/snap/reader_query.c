/* Questions asked of an open snapshot: its records and sections, and the
 * decoding of a section, the machine description or the RAM map into a
 * caller's staging struct.  Nothing here is committed anywhere. */
#include <errno.h>
#include <string.h>

#include "snap/reader.h"
#include "snap/wire.h"

const uint8_t *snap_reader_data(const struct snap_reader *r)
{
	return r->data;
}
const char *snap_reader_path(const struct snap_reader *r)
{
	return r->path;
}
unsigned snap_record_count(const struct snap_reader *r)
{
	return r->nr_recs;
}
unsigned snap_section_count(const struct snap_reader *r)
{
	return r->nr_secs;
}

const struct snap_record *snap_record_at(const struct snap_reader *r,
					 unsigned i)
{
	return i < r->nr_recs ? &r->recs[i] : NULL;
}

const struct snap_section *snap_section_at(const struct snap_reader *r,
					   unsigned i)
{
	return i < r->nr_secs ? &r->secs[i] : NULL;
}

const struct snap_section *snap_find_section(const struct snap_reader *r,
					     const char *name,
					     unsigned instance)
{
	struct snap_section key;
	size_t lo = 0, hi = r->nr_secs;

	if (strlen(name) > SNAP_NAME_MAX)
		return NULL;
	strcpy(key.name, name);
	key.instance = instance;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const struct snap_section *s = &r->secs[r->sorted[mid]];
		int c = reader_section_cmp(s, &key);

		if (c == 0)
			return s;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int snap_decode_section(const struct snap_reader *r,
			const struct snap_section *s,
			const struct state_desc *desc, void *staging,
			struct hyve_err *err)
{
	int ret;

	/* Callers may pass snap_find_section()'s answer straight in. */
	if (!s)
		return err_set(err, ENOENT,
			       "section '%s' is not in the snapshot",
			       desc->name);
	if (s->version < desc->min_version)
		return err_set(err, EPROTONOSUPPORT,
			       "section '%s'.%u v%u is older than the oldest "
			       "this hyve loads (v%u)",
			       s->name, s->instance, s->version,
			       desc->min_version);
	ret = snap_fields_decode(r->data + s->fields, s->fields_len, desc,
				 s->version, staging, err);
	if (ret)
		err_prefix(err, "section '%s'.%u v%u: ", s->name, s->instance,
			   s->version);
	return ret;
}

static int reader_decode_record(const struct snap_reader *r, unsigned idx,
				const struct state_desc *desc, void *out,
				struct hyve_err *err)
{
	const struct snap_record *rec = &r->recs[idx];
	struct snap_envelope env;
	int ret;

	ret = snap_envelope_parse(r->data + rec->body, rec->length, &env, err);
	if (ret)
		return ret;
	if (env.version < desc->min_version)
		return err_set(
		    err, EPROTONOSUPPORT,
		    "'%s' v%u is older than the oldest this hyve loads (v%u)",
		    desc->name, env.version, desc->min_version);
	return snap_fields_decode(r->data + rec->body + env.fields,
				  env.fields_len, desc, env.version, out, err);
}

int snap_read_machine(const struct snap_reader *r, struct snap_machine *m,
		      struct hyve_err *err)
{
	int ret = reader_decode_record(r, 0, &snap_machine_desc, m, err);

	if (ret)
		err_prefix(err, "machine description: ");
	return ret;
}

int snap_read_ram_map(const struct snap_reader *r, struct snap_ram_map *map,
		      struct hyve_err *err)
{
	int ret;

	if (r->ram_map < 0)
		return err_set(err, ENOENT,
			       "the snapshot has no RAM map (RAMM record)");
	ret = reader_decode_record(r, (unsigned)r->ram_map, &snap_ram_map_desc,
				   map, err);
	if (!ret)
		ret = snap_ram_map_check(map, err);
	if (ret)
		err_prefix(err, "RAM map: ");
	return ret;
}

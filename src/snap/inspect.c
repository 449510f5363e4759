/* Printing a whole snapshot, record by record, with no device code: the
 * bodies are walked generically (walk.c).  The JSON form is §9.1 of
 * docs/snapshot-format.md and is what tools/hyve-snap.py prints too. */
#include <errno.h>
#include <inttypes.h>

#include "hyve/snapshot.h"
#include "snap/wire.h"

static void inspect_hex(FILE *out, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		fprintf(out, "%02x", p[i]);
}

int snap_inspect(const struct snap_reader *r, enum snap_walk_mode mode,
		 FILE *out, struct hyve_err *err)
{
	bool json = mode == SNAP_WALK_JSON;
	const uint8_t *data = snap_reader_data(r);
	unsigned n = snap_record_count(r);
	char tn[5];
	int ret = 0;

	/* CHECK validates every body the format defines, printing nothing. */
	if (mode == SNAP_WALK_CHECK) {
		for (unsigned i = 0; i < n && !ret; i++) {
			const struct snap_record *rec = snap_record_at(r, i);

			if (rec->type != SNAP_REC_MACHINE &&
			    rec->type != SNAP_REC_SECTION &&
			    rec->type != SNAP_REC_RAM_MAP)
				continue;
			ret = snap_walk_body(data + rec->body, rec->length,
					     mode, NULL, 0, err);
			if (ret)
				err_prefix(err, "record %u '%s': ", i,
					   snap_type_name(rec->type, tn));
		}
		return ret;
	}
	if (json)
		fprintf(out,
			"{\"format\":\"hyve-snapshot\",\"format_version\":%u,"
			"\"records\":[",
			snap_get_le32(data + 8));
	else
		fprintf(out, "hyve snapshot, format v%u, %u records\n",
			snap_get_le32(data + 8), n);
	for (unsigned i = 0; i < n; i++) {
		const struct snap_record *rec = snap_record_at(r, i);
		bool known = rec->type == SNAP_REC_MACHINE ||
			     rec->type == SNAP_REC_SECTION ||
			     rec->type == SNAP_REC_RAM_MAP;
		bool opt = rec->flags & SNAP_REC_OPTIONAL;

		snap_type_name(rec->type, tn);
		if (json)
			fprintf(out,
				"%s{\"index\":%u,\"type\":\"%s\",\"optional\":%"
				"s,\"length\":%zu,\"checksum\":\"%016" PRIx64
				"\",\"body\":",
				i ? "," : "", i, tn, opt ? "true" : "false",
				rec->length, rec->checksum);
		else
			fprintf(out,
				"[%u] %s%s %zu bytes, checksum %016" PRIx64
				"\n    ",
				i, tn, opt ? " (optional)" : "", rec->length,
				rec->checksum);
		if (known) {
			ret = snap_walk_body(data + rec->body, rec->length,
					     mode, out, 4, err);
			if (ret) {
				err_prefix(err, "record %u '%s': ", i, tn);
				return ret;
			}
		} else if (rec->type == SNAP_REC_END) {
			fprintf(out, json ? "null" : "end");
		} else {
			fprintf(out, json ? "{\"hex\":\""
					  : "unknown record, skipped: ");
			inspect_hex(out, data + rec->body, rec->length);
			fprintf(out, json ? "\"}" : "");
		}
		fprintf(out, json ? "}" : "\n");
	}
	fprintf(out, json ? "]}\n" : "");
	return ferror(out) ? err_set(err, EIO, "output error") : 0;
}

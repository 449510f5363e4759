/* The wire schema of every section this hyve writes, derived from the state
 * tables themselves, so that the specification (docs/snapshot-sections.md)
 * and the frozen per-version schemas (tests/fixtures/schema/) are checked
 * against the code instead of being kept in step by hand. */
#include <stdlib.h>
#include <string.h>

#include "hyve/device.h"
#include "hyve/schema.h"
#include "hyve/snapshot.h"
#include "hyve/vcpu_state.h"
#include "snap/cbor.h"
#include "snap/vmsnap_internal.h"

static void schema_type(char *buf, size_t size, const struct state_field *f)
{
	const char *t = snap_ft_name(f->type);

	if (f->type == FT_STRUCT)
		snprintf(buf, size, "struct `%s` v%u%s", f->sub->name, f->sub->version,
			 f->flags & FF_VARCOUNT ? "[] (variable)" : f->count > 1 ? "[]" : "");
	else if (f->type == FT_STRING)
		snprintf(buf, size, "string (at most %zu bytes)", f->size - 1);
	else if (f->type == FT_BYTES)
		snprintf(buf, size, "bytes (%zu)", f->size);
	else if (f->count > 1)
		snprintf(buf, size, "%s[%u]", t, f->count);
	else
		snprintf(buf, size, "%s", t);
}

static void schema_rows(FILE *out, const struct state_desc *desc, const char *prefix, unsigned depth)
{
	char type[128], name[160];

	for (const struct state_field *f = desc->fields; f->name && depth < SNAP_DEPTH_MAX; f++) {
		schema_type(type, sizeof(type), f);
		snprintf(name, sizeof(name), "%s%s", prefix, f->name);
		fprintf(out, "| `%s` | %s | %u | %s |\n", name, type, f->since,
			f->flags & FF_OPTIONAL ? "optional" : "");
		if (f->type == FT_STRUCT) {
			char sub[160];

			snprintf(sub, sizeof(sub), "%s%s%s.", prefix, f->name, f->count > 1 ? "[]" : "");
			schema_rows(out, f->sub, sub, depth + 1);
		}
	}
}

void snap_schema_markdown(FILE *out, const char *section, const struct state_desc *desc)
{
	fprintf(out, "### `%s` (table `%s`, version %u, loads versions %u..%u)\n\n", section, desc->name,
		desc->version, desc->min_version, desc->version);
	fprintf(out, "| field | type | since | notes |\n|---|---|---|---|\n");
	schema_rows(out, desc, "", 0);
	fprintf(out, "\n");
}

static void schema_canon_rows(FILE *out, const struct state_desc *desc, const char *prefix, unsigned depth)
{
	for (const struct state_field *f = desc->fields; f->name && depth < SNAP_DEPTH_MAX; f++) {
		fprintf(out, "%s%s %s size=%zu count=%u since=%u flags=%u def=%llu", prefix, f->name,
			snap_ft_name(f->type), f->size, f->count, f->since, f->flags, (unsigned long long)f->def);
		if (f->type == FT_STRUCT) {
			char sub[160];

			fprintf(out, " struct=%s v%u\n", f->sub->name, f->sub->version);
			snprintf(sub, sizeof(sub), "%s%s.", prefix, f->name);
			schema_canon_rows(out, f->sub, sub, depth + 1);
		} else {
			fprintf(out, "\n");
		}
	}
}

void snap_schema_canonical(FILE *out, const struct state_desc *desc)
{
	fprintf(out, "table %s version %u min_version %u\n", desc->name, desc->version, desc->min_version);
	schema_canon_rows(out, desc, "", 0);
}

static int schema_by_name(const void *a, const void *b)
{
	const struct snap_schema_entry *x = a, *y = b;

	return strcmp(x->section, y->section);
}

unsigned snap_schema_sections(struct snap_schema_entry *out, unsigned max)
{
	const struct device_type *type;
	unsigned n = 0;

	if (max < 4)
		return 0;
	out[n++] = (struct snap_schema_entry){ "machine (MACH record)", &snap_machine_desc };
	out[n++] = (struct snap_schema_entry){ "ram-map (RAMM record)", &snap_ram_map_desc };
	out[n++] = (struct snap_schema_entry){ "vm", &vm_time_state_desc };
	out[n++] = (struct snap_schema_entry){ "vcpu", &vcpu_state_desc };
	for (unsigned i = 0; (type = device_type_at(i)) != NULL && n < max; i++)
		if (type->state)
			out[n++] = (struct snap_schema_entry){ type->name, type->state };
	qsort(out + 4, n - 4, sizeof(out[0]), schema_by_name);
	return n;
}

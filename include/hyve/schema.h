/* The wire schema of the sections hyve writes, printed from the state
 * tables: the generated part of the specification and the frozen
 * per-version schemas are both made from this. */
#ifndef HYVE_SCHEMA_H
#define HYVE_SCHEMA_H

#include <stdio.h>

#include "hyve/state.h"

struct snap_schema_entry {
	const char *section; /* name on the wire ("rtc", "vcpu", ...) */
	const struct state_desc *desc;
};

/* Every section this hyve writes: the machine description, the RAM map,
 * "vm", "vcpu", then every registered device type with state, by name. */
unsigned snap_schema_sections(struct snap_schema_entry *out, unsigned max);
/* A markdown table of the section's fields (nested structs flattened). */
void snap_schema_markdown(FILE *out, const char *section, const struct state_desc *desc);
/* One line per field with everything that fixes its wire form: the text
 * frozen per section version in tests/fixtures/schema/. */
void snap_schema_canonical(FILE *out, const struct state_desc *desc);

#endif

/* Internal: byte-order helpers, checksums and the body envelope shared by
 * the writer, the reader and the walker (docs/snapshot-format.md §3, §4.1). */
#ifndef HYVE_SNAP_WIRE_H
#define HYVE_SNAP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hyve/err.h"

void snap_put_le32(uint8_t *p, uint32_t v);
void snap_put_le64(uint8_t *p, uint64_t v);
uint32_t snap_get_le32(const uint8_t *p);
uint64_t snap_get_le64(const uint8_t *p);
/* XXH3-64 over the first 16 header bytes, then the body. */
uint64_t snap_record_checksum(const uint8_t *hdr, const uint8_t *body,
			      size_t len);
/* Section names also allow '-' and '.'; field names do not. */
bool snap_name_valid(const char *s, size_t len, bool section);

/* [name, instance, version, fields] */
struct snap_envelope {
	const char *name;
	size_t name_len;
	uint32_t instance;
	uint32_t version;
	size_t fields; /* offset of the field map within the body */
	size_t fields_len;
};

int snap_envelope_parse(const uint8_t *body, size_t len,
			struct snap_envelope *env, struct hyve_err *err);

#endif

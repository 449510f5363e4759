/* Internal: the reader's state, shared by reader.c (open, checks, index)
 * and reader_query.c (lookups and decoding). */
#ifndef HYVE_SNAP_READER_H
#define HYVE_SNAP_READER_H

#include <string.h>

#include "hyve/snapshot.h"

struct snap_reader {
	uint8_t *data;
	size_t len;
	char *path;
	struct snap_record *recs;
	unsigned nr_recs, cap_recs;
	struct snap_section *secs;
	unsigned nr_secs, cap_secs;
	unsigned *sorted; /* section indices by (name, instance) */
	int ram_map;	  /* record index of RAMM, -1 if none */
};

/* Sections sort by (name, instance): duplicates are found and lookups are
 * binary searches. */
static inline int reader_section_cmp(const struct snap_section *a,
				     const struct snap_section *b)
{
	int c = strcmp(a->name, b->name);

	if (c)
		return c;
	return a->instance < b->instance ? -1 : a->instance > b->instance;
}

#endif

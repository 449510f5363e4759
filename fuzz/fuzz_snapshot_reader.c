/* libFuzzer target: the snapshot reader, the state-table decoder, the RAM
 * map decoder and the generic inspect walk over arbitrary bytes.  Built with
 * FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION so that checksum mismatches do
 * not stop the input at the door (see src/snap/reader.c). */
#include <stdio.h>
#include <stdlib.h>

#include "hyve/snapshot.h"
#include "snap/cbor.h"
#include "test_snap_util.h"

static FILE *fuzz_null;
static struct snap_machine *fuzz_machine;
static struct snap_ram_map *fuzz_map;

static void fuzz_sections(const struct snap_reader *r)
{
	struct hyve_err err = {0};
	struct tstate s;
	struct tvcpu v;

	for (unsigned i = 0; i < snap_section_count(r); i++) {
		const struct snap_section *sec = snap_section_at(r, i);

		err_clear(&err);
		snap_decode_section(r, sec, &tstate_desc_v1, &s, &err);
		err_clear(&err);
		snap_decode_section(r, sec, &tvcpu_desc, &v, &err);
	}
	snap_find_section(r, "testdev", 0);
}

/* The inline decoder must agree with libcbor's on every item of every
 * input, up to and including the first item either refuses. */
static void fuzz_decoders_agree(const uint8_t *data, size_t size)
{
	struct cb_in x = {data, data + size}, y = x;
	struct cb_item i, j;

	for (;;) {
		int rx = cb_next(&x, &i), ry = cb_next_libcbor(&y, &j);

		if (rx != ry || (!rx && (i.kind != j.kind || x.p != y.p)))
			abort();
		if (rx)
			return;
		if ((i.kind == CB_BYTES || i.kind == CB_TEXT)
			? (i.p != j.p || i.len != j.len)
		    : i.kind == CB_BOOL ? i.b != j.b
					: i.u != j.u)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hyve_err err = {0};
	struct snap_reader *r;
	struct tstate s;

	if (!fuzz_null) {
		fuzz_null = fopen("/dev/null", "w");
		fuzz_machine = malloc(sizeof(*fuzz_machine));
		fuzz_map = malloc(sizeof(*fuzz_map));
		if (!fuzz_null || !fuzz_machine || !fuzz_map)
			abort();
	}
	if (snap_reader_open_mem(&r, data, size, &err) == 0) {
		snap_inspect(r, SNAP_WALK_TEXT, fuzz_null, &err);
		err_clear(&err);
		snap_inspect(r, SNAP_WALK_JSON, fuzz_null, &err);
		err_clear(&err);
		snap_read_machine(r, fuzz_machine, &err);
		err_clear(&err);
		snap_read_ram_map(r, fuzz_map, &err);
		fuzz_sections(r);
		snap_reader_close(r);
	}
	fuzz_decoders_agree(data, size);
	/* The same bytes as a bare record body and as a bare field map. */
	err_clear(&err);
	snap_walk_body(data, size, SNAP_WALK_JSON, fuzz_null, 0, &err);
	err_clear(&err);
	snap_fields_decode(data, size, &tstate_desc_v1, 1, &s, &err);
	return 0;
}

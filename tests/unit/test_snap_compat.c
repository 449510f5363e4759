/* Compatibility, forever: the golden fixtures in tests/fixtures/ were
 * written once by the code of their format version and are never
 * regenerated (docs/snapshot-format.md §8).  This test loads them with
 * today's code, loads them with a newer table version (new fields take
 * their defaults), and checks the refusal of newer files.
 *
 * `test_snap_compat --write-fixture PATH` wrote tests/fixtures/snap-v1;
 * it exists for the record and must not be used to overwrite a fixture. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "check.h"
#include "snap/wire.h"
#include "test_snap_util.h"

#define FIXTURE_V1 "tests/fixtures/snap-v1"

/* testdev v2: two fields appeared in v2, with defaults. */
static const struct state_field tstate_fields_v2[] = {
    TSTATE_V1_FIELDS,
    {.name = "hint",
     .type = FT_U32,
     .offset = offsetof(struct tstate, hint),
     .size = 4,
     .count = 1,
     .since = 1,
     .flags = FF_OPTIONAL},
    FIELD_U32_DEFAULT(struct tstate, added_v2, 2, 0x1234),
    FIELD_BOOL_DEFAULT(struct tstate, added_flag, 2, true),
    FIELD_END};
static const struct state_desc tstate_desc_v2 =
    STATE_DESC("testdev", struct tstate, 2, tstate_fields_v2);

static void compat_v1_fixture_loads_with_every_value(void)
{
	struct snap_machine *m = malloc(sizeof(*m)),
			    *want = malloc(sizeof(*want));
	struct snap_ram_map *map = malloc(sizeof(*map));
	struct hyve_err err = {0};
	struct snap_reader *r;
	struct tstate s, e;
	struct tvcpu v, ev;

	CHECK_EQ(snap_reader_open(&r, FIXTURE_V1, &err), 0);
	if (err.code) {
		printf("  %s\n", err.msg);
		goto out;
	}
	CHECK_EQ(snap_record_count(r), 8);
	CHECK_EQ(snap_section_count(r), 4);
	CHECK_EQ(snap_read_machine(r, m, &err), 0);
	tmachine_fill(want);
	CHECK(memcmp(m, want, sizeof(*m)) == 0);
	for (unsigned i = 0; i < 2; i++) {
		const struct snap_section *sec =
		    snap_find_section(r, "testdev", i);

		CHECK(sec != NULL);
		if (!sec)
			continue;
		CHECK_EQ(sec->flags, i ? SNAP_REC_OPTIONAL : 0);
		CHECK_EQ(snap_decode_section(r, sec, &tstate_desc_v1, &s, &err),
			 0);
		tstate_fill(&e, i);
		CHECK(memcmp(&s, &e, sizeof(s)) == 0);
		CHECK_EQ(snap_decode_section(r, snap_find_section(r, "vcpu", i),
					     &tvcpu_desc, &v, &err),
			 0);
		tvcpu_fill(&ev, i);
		CHECK(memcmp(&v, &ev, sizeof(v)) == 0);
	}
	CHECK_EQ(snap_read_ram_map(r, map, &err), 0);
	CHECK_EQ(snap_ram_verify(FIXTURE_V1 ".mem", map, &err), 0);
	CHECK_EQ(err.code, 0);
	snap_reader_close(r);
out:
	free(m);
	free(want);
	free(map);
}

static void compat_newer_table_loads_v1_fixture_with_defaults(void)
{
	struct hyve_err err = {0};
	struct snap_reader *r;
	struct tstate s, e;

	CHECK_EQ(snap_reader_open(&r, FIXTURE_V1, &err), 0);
	if (err.code)
		return;
	CHECK_EQ(snap_decode_section(r, snap_find_section(r, "testdev", 0),
				     &tstate_desc_v2, &s, &err),
		 0);
	tstate_fill(&e, 0);
	CHECK_EQ(s.added_v2, 0x1234);
	CHECK_EQ(s.added_flag, true);
	CHECK_EQ(s.u64, e.u64);
	CHECK_EQ(s.var[2].a, e.var[2].a);
	snap_reader_close(r);
}

/* Appends a record to a copy of the fixture just before its END record. */
static uint8_t *fixture_with_record(uint32_t type, uint32_t flags, size_t *len)
{
	uint8_t *orig = tread_file(FIXTURE_V1, len), *out;
	struct snap_buf b = {0};
	struct hyve_err err = {0};
	static const char body[] = "dirty-log bitmap from the future";

	if (!orig)
		return NULL;
	*len -= SNAP_RECORD_HEADER_SIZE; /* drop END */
	snap_buf_reserve(&b, *len);
	memcpy(b.data, orig, *len);
	b.len = *len;
	snap_stream_record(&b, type, flags, body, sizeof(body) - 1, &err);
	snap_stream_end(&b, &err);
	free(orig);
	out = b.data;
	*len = b.len;
	return out;
}

static void compat_unknown_mandatory_record_is_refused_by_name(void)
{
	struct hyve_err err = {0};
	struct snap_reader *r = NULL;
	size_t len;
	uint8_t *d =
	    fixture_with_record(SNAP_FOURCC('D', 'I', 'R', 'T'), 0, &len);

	CHECK(d != NULL);
	if (!d)
		return;
	CHECK_EQ(snap_reader_open_mem(&r, d, len, &err), -EPROTONOSUPPORT);
	CHECK(strstr(err.msg, "'DIRT' is mandatory but unknown") != NULL);
	CHECK(r == NULL);
	free(d);
}

static void compat_unknown_optional_record_is_skipped(void)
{
	struct hyve_err err = {0};
	struct snap_reader *r = NULL;
	size_t len;
	uint8_t *d = fixture_with_record(SNAP_FOURCC('D', 'I', 'R', 'T'),
					 SNAP_REC_OPTIONAL, &len);

	CHECK(d != NULL);
	if (!d)
		return;
	CHECK_EQ(snap_reader_open_mem(&r, d, len, &err), 0);
	if (r) {
		CHECK_EQ(snap_record_count(r), 9);
		CHECK_EQ(snap_section_count(r), 4);
		snap_reader_close(r);
	}
	free(d);
}

static void compat_newer_format_version_is_refused(void)
{
	struct hyve_err err = {0};
	struct snap_reader *r = NULL;
	size_t len;
	uint8_t *d = tread_file(FIXTURE_V1, &len);

	CHECK(d != NULL);
	if (!d)
		return;
	snap_put_le32(d + 8, 2);
	snap_put_le64(d + 24, XXH3_64bits(d, 24));
	CHECK_EQ(snap_reader_open_mem(&r, d, len, &err), -EPROTONOSUPPORT);
	CHECK(strstr(err.msg,
		     "format version 2 is newer than this hyve reads (1)") !=
	      NULL);
	free(d);
}

/* tools/hyve-snap.py reads the format without hyve and prints the same
 * JSON as `hyvectl snapshot inspect --json`, byte for byte. */
static void compat_python_reader_prints_the_same_json(void)
{
	struct hyve_err err = {0};
	struct snap_reader *r;
	char *mine = NULL, py[1 << 16];
	size_t mine_len = 0, n;
	FILE *f, *p;

	CHECK_EQ(snap_reader_open(&r, FIXTURE_V1, &err), 0);
	if (err.code)
		return;
	f = open_memstream(&mine, &mine_len);
	CHECK_EQ(snap_inspect(r, SNAP_WALK_JSON, f, &err), 0);
	fclose(f);
	snap_reader_close(r);
	p = popen("/usr/bin/python3 tools/hyve-snap.py " FIXTURE_V1, "r");
	CHECK(p != NULL);
	if (p) {
		n = fread(py, 1, sizeof(py) - 1, p);
		py[n] = '\0';
		CHECK_EQ(pclose(p), 0);
		CHECK_EQ(n, mine_len);
		CHECK(n == mine_len && memcmp(py, mine, n) == 0);
	}
	free(mine);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-fixture") == 0) {
		struct hyve_err err = {0};

		if (access(argv[2], F_OK) == 0) {
			fprintf(stderr,
				"%s exists: fixtures are never regenerated\n",
				argv[2]);
			return 1;
		}
		if (tsnap_write(argv[2], &err)) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		return 0;
	}
	RUN_TEST(compat_v1_fixture_loads_with_every_value);
	RUN_TEST(compat_newer_table_loads_v1_fixture_with_defaults);
	RUN_TEST(compat_unknown_mandatory_record_is_refused_by_name);
	RUN_TEST(compat_unknown_optional_record_is_skipped);
	RUN_TEST(compat_newer_format_version_is_refused);
	if (system("/usr/bin/python3 -c 'import cbor2, xxhash' 2>/dev/null") ==
	    0)
		RUN_TEST(compat_python_reader_prints_the_same_json);
	else
		SKIP_TEST(
		    compat_python_reader_prints_the_same_json,
		    "/usr/bin/python3 lacks python3-cbor2 or python3-xxhash");
	return CHECK_DONE();
}

/* The state-table codec and record stream: every field type round-trips,
 * and every kind of disagreement between file and table fails with a
 * message naming the field and both sides. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "snap/cbor.h"
#include "test_snap_util.h"

/* A snapshot in memory with a MACH record and one section. */
static struct snap_reader *one_section(const struct state_desc *desc,
				       const char *name, const void *state,
				       struct hyve_err *err)
{
	struct snap_machine *m = calloc(1, sizeof(*m));
	struct snap_buf b = {0};
	struct snap_reader *r = NULL;

	if (!m)
		return NULL;
	tmachine_fill(m);
	snap_stream_begin(&b);
	if (!snap_stream_section(&b, SNAP_REC_MACHINE, 0, &snap_machine_desc,
				 "machine", 0, m, err) &&
	    !snap_stream_section(&b, SNAP_REC_SECTION, 0, desc, name, 0, state,
				 err) &&
	    !snap_stream_end(&b, err))
		snap_reader_open_mem(&r, b.data, b.len, err);
	snap_buf_free(&b);
	free(m);
	return r;
}

/* Writes `wdesc` from wstate, decodes with rdesc into rstate; returns the
 * decode result and leaves the message in err. */
static int cross(const struct state_desc *wdesc, const void *wstate,
		 const struct state_desc *rdesc, void *rstate,
		 struct hyve_err *err)
{
	struct snap_reader *r = one_section(wdesc, "dev", wstate, err);
	int ret;

	if (!r)
		return -999;
	ret = snap_decode_section(r, snap_find_section(r, "dev", 0), rdesc,
				  rstate, err);
	snap_reader_close(r);
	return ret;
}

static void snap_roundtrip_preserves_every_field_type(void)
{
	struct hyve_err err = {0};
	struct tstate in, out;
	struct snap_reader *r;

	tstate_fill(&in, 3);
	r = one_section(&tstate_desc_v1, "testdev", &in, &err);
	CHECK(r != NULL);
	if (!r)
		return;
	memset(&out, 0x5a, sizeof(out));
	CHECK_EQ(snap_decode_section(r, snap_find_section(r, "testdev", 0),
				     &tstate_desc_v1, &out, &err),
		 0);
	CHECK(memcmp(&in, &out, offsetof(struct tstate, added_v2)) == 0);
	CHECK_EQ(out.nr_var, 3);
	CHECK_EQ(out.i64, INT64_MIN);
	CHECK_EQ(out.big[0], UINT64_MAX);
	CHECK(strcmp(out.label, "say \"hi\"\n\tok") == 0);
	CHECK(snap_find_section(r, "testdev", 1) == NULL);
	CHECK_EQ(snap_decode_section(r, snap_find_section(r, "testdev", 1),
				     &tstate_desc_v1, &out, &err),
		 -ENOENT);
	CHECK(strstr(err.msg, "section 'testdev' is not in the snapshot") !=
	      NULL);
	CHECK(snap_find_section(r, "nothere", 0) == NULL);
	snap_reader_close(r);
}

static void snap_machine_description_roundtrips(void)
{
	struct snap_machine *in = malloc(sizeof(*in)),
			    *out = malloc(sizeof(*out));
	struct hyve_err err = {0};
	struct tstate s;
	struct snap_reader *r;

	tstate_fill(&s, 0);
	tmachine_fill(in);
	r = one_section(&tstate_desc_v1, "testdev", &s, &err);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ(snap_read_machine(r, out, &err), 0);
		CHECK(memcmp(in, out, sizeof(*in)) == 0);
		CHECK_EQ(out->config.nr_slots, 1);
		CHECK(strcmp(out->config.slots[0].conf, "path=/tmp/disk.img") ==
		      0);
		CHECK_EQ(out->nr_cpuid, 2);
		CHECK_EQ(snap_read_ram_map(r, NULL, &err), -ENOENT);
	}
	snap_reader_close(r);
	free(in);
	free(out);
}

struct w16 {
	uint16_t x;
};
struct w32 {
	uint32_t x;
};
static const struct state_field w16_f[] = {FIELD_U16(struct w16, x, 1),
					   FIELD_END};
static const struct state_field w32_f[] = {FIELD_U32(struct w32, x, 1),
					   FIELD_END};
static const struct state_desc w16_d = STATE_DESC("w", struct w16, 1, w16_f);
static const struct state_desc w32_d = STATE_DESC("w", struct w32, 1, w32_f);

static void snap_type_mismatch_names_both_types(void)
{
	struct hyve_err err = {0};
	struct w16 a = {7};
	struct w32 b;

	CHECK_EQ(cross(&w16_d, &a, &w32_d, &b, &err), -EBADMSG);
	CHECK(strstr(err.msg,
		     "field 'x': file has u16, this hyve expects u32") != NULL);
	CHECK(strstr(err.msg, "section 'dev'.0 v1") != NULL);
}

struct b8 {
	uint8_t x[8];
};
struct b16 {
	uint8_t x[16];
};
static const struct state_field b8_f[] = {FIELD_BYTES(struct b8, x, 1),
					  FIELD_END};
static const struct state_field b16_f[] = {FIELD_BYTES(struct b16, x, 1),
					   FIELD_END};
static const struct state_desc b8_d = STATE_DESC("b", struct b8, 1, b8_f);
static const struct state_desc b16_d = STATE_DESC("b", struct b16, 1, b16_f);

struct a2 {
	uint32_t x[2];
};
struct a4 {
	uint32_t x[4];
};
static const struct state_field a2_f[] = {FIELD_ARRAY_U32(struct a2, x, 1),
					  FIELD_END};
static const struct state_field a4_f[] = {FIELD_ARRAY_U32(struct a4, x, 1),
					  FIELD_END};
static const struct state_desc a2_d = STATE_DESC("a", struct a2, 1, a2_f);
static const struct state_desc a4_d = STATE_DESC("a", struct a4, 1, a4_f);

static void snap_size_mismatch_names_both_sizes(void)
{
	struct hyve_err err = {0};
	struct b8 s8 = {{1}};
	struct b16 s16;
	struct a2 x2 = {{1, 2}};
	struct a4 x4;

	CHECK_EQ(cross(&b8_d, &s8, &b16_d, &s16, &err), -EMSGSIZE);
	CHECK(
	    strstr(
		err.msg,
		"field 'x': file has bytes[8], this hyve expects bytes[16]") !=
	    NULL);
	err_clear(&err);
	CHECK_EQ(cross(&a2_d, &x2, &a4_d, &x4, &err), -EMSGSIZE);
	CHECK(strstr(err.msg,
		     "field 'x': file has u32[2], this hyve expects u32[4]") !=
	      NULL);
	err_clear(&err);
	/* A scalar where an array is expected is a type mismatch. */
	CHECK_EQ(cross(&w32_d, &(struct w32){1}, &a2_d, &x2, &err), -EBADMSG);
	CHECK(strstr(err.msg, "file has u32, this hyve expects u32[]") != NULL);
}

struct xy {
	uint32_t x, y;
};
static const struct state_field xy_f[] = {
    FIELD_U32(struct xy, x, 1), FIELD_U32(struct xy, y, 1), FIELD_END};
static const struct state_field xyopt_f[] = {FIELD_U32(struct xy, x, 1),
					     {.name = "y",
					      .type = FT_U32,
					      .offset = offsetof(struct xy, y),
					      .size = 4,
					      .count = 1,
					      .since = 1,
					      .flags = FF_OPTIONAL},
					     FIELD_END};
static const struct state_field xy2_f[] = {
    FIELD_U32(struct xy, x, 1), FIELD_U32_DEFAULT(struct xy, y, 2, 0x1234),
    FIELD_END};
static const struct state_field x_f[] = {FIELD_U32(struct xy, x, 1), FIELD_END};
static const struct state_desc xy_d = STATE_DESC("xy", struct xy, 1, xy_f);
static const struct state_desc xyopt_d =
    STATE_DESC("xy", struct xy, 2, xyopt_f);
static const struct state_desc xy2_d = STATE_DESC("xy", struct xy, 2, xy2_f);
static const struct state_desc x_d = STATE_DESC("xy", struct xy, 1, x_f);
static const struct state_desc xy2min_d = {.name = "xy",
					   .version = 2,
					   .min_version = 2,
					   .size = sizeof(struct xy),
					   .fields = xy2_f};

static void snap_unknown_field_fails_unless_optional(void)
{
	struct hyve_err err = {0};
	struct xy in = {1, 2}, out;

	CHECK_EQ(cross(&xy_d, &in, &x_d, &out, &err), -ENOENT);
	CHECK(strstr(err.msg, "unknown field 'y'") != NULL);
	err_clear(&err);
	CHECK_EQ(cross(&xyopt_d, &in, &x_d, &out, &err), 0);
	CHECK_EQ(out.x, 1);
	CHECK_EQ(out.y, 0);
}

static void snap_missing_field_fails_and_newer_field_takes_default(void)
{
	struct hyve_err err = {0};
	struct xy in = {5, 6}, out;

	/* v1 file, v2 table: y appeared in v2, so it takes its default. */
	CHECK_EQ(cross(&x_d, &in, &xy2_d, &out, &err), 0);
	CHECK_EQ(out.x, 5);
	CHECK_EQ(out.y, 0x1234);
	/* v1 file, v1 table that has y: the file is incomplete. */
	CHECK_EQ(cross(&x_d, &in, &xy_d, &out, &err), -ENOENT);
	CHECK(strstr(err.msg, "field 'y' (since v1) is missing") != NULL);
	err_clear(&err);
	/* A table that no longer loads v1. */
	CHECK_EQ(cross(&x_d, &in, &xy2min_d, &out, &err), -EPROTONOSUPPORT);
	CHECK(strstr(err.msg,
		     "v1 is older than the oldest this hyve loads (v2)") !=
	      NULL);
	/* A newer file (v2) with a known field set: loads into v1. */
	err_clear(&err);
	CHECK_EQ(cross(&xy2_d, &in, &xy_d, &out, &err), 0);
	CHECK_EQ(out.y, 6);
}

struct v4 {
	uint32_t n;
	struct tsub e[4];
};
struct v2 {
	uint32_t n;
	struct tsub e[2];
};
static const struct state_field v4_f[] = {
    FIELD_STRUCT_VARRAY(struct v4, e, struct tsub, tsub_desc, n, 1), FIELD_END};
static const struct state_field v2_f[] = {
    FIELD_STRUCT_VARRAY(struct v2, e, struct tsub, tsub_desc, n, 1), FIELD_END};
static const struct state_desc v4_d = STATE_DESC("v", struct v4, 1, v4_f);
static const struct state_desc v2_d = STATE_DESC("v", struct v2, 1, v2_f);

struct s32 {
	char s[32];
};
struct s8 {
	char s[8];
};
static const struct state_field s32_f[] = {FIELD_STRING(struct s32, s, 1),
					   FIELD_END};
static const struct state_field s8_f[] = {FIELD_STRING(struct s8, s, 1),
					  FIELD_END};
static const struct state_desc s32_d = STATE_DESC("s", struct s32, 1, s32_f);
static const struct state_desc s8_d = STATE_DESC("s", struct s8, 1, s8_f);

static void snap_counts_and_strings_are_bounded_by_capacity(void)
{
	struct hyve_err err = {0};
	struct v4 big = {.n = 4};
	struct v2 small;
	struct s32 str = {"a string of 20 bytes"};
	struct s8 sstr;

	CHECK_EQ(cross(&v4_d, &big, &v2_d, &small, &err), -EMSGSIZE);
	CHECK(
	    strstr(
		err.msg,
		"field 'e': file has 4 elements, this hyve holds at most 2") !=
	    NULL);
	err_clear(&err);
	big.n = 2;
	big.e[1].a = 77;
	CHECK_EQ(cross(&v4_d, &big, &v2_d, &small, &err), 0);
	CHECK_EQ(small.n, 2);
	CHECK_EQ(small.e[1].a, 77);
	CHECK_EQ(cross(&s32_d, &str, &s8_d, &sstr, &err), -EMSGSIZE);
	CHECK(strstr(
		  err.msg,
		  "field 's': string of 20 bytes, this hyve holds at most 7") !=
	      NULL);
	/* The writer refuses a count beyond the capacity. */
	err_clear(&err);
	big.n = 5;
	CHECK(one_section(&v4_d, "dev", &big, &err) == NULL);
	CHECK(strstr(err.msg, "field 'e': 5 elements, capacity 4") != NULL);
}

/* Hand-made field maps: values the writer never produces. */
static void snap_out_of_range_values_fail_naming_the_field(void)
{
	struct hyve_err err = {0};
	struct snap_buf b = {0};
	struct tsub t;
	struct w16 w;

	cb_put_map(&b, 1);
	cb_put_text(&b, "x", 1);
	cb_put_array(&b, 2);
	cb_put_uint(&b, FT_U16);
	cb_put_uint(&b, 70000);
	CHECK_EQ(snap_fields_decode(b.data, b.len, &w16_d, 1, &w, &err),
		 -ERANGE);
	CHECK(strstr(err.msg, "field 'x': value 70000 does not fit u16") !=
	      NULL);
	b.len = 0;
	err_clear(&err);
	cb_put_map(&b, 3);
	cb_put_text(&b, "a", 1);
	cb_put_array(&b, 2);
	cb_put_uint(&b, FT_U16);
	cb_put_uint(&b, 1);
	cb_put_text(&b, "b", 1);
	cb_put_array(&b, 2);
	cb_put_uint(&b, FT_I32);
	cb_put_int(&b, -2147483648LL - 1);
	cb_put_text(&b, "on", 2);
	cb_put_array(&b, 2);
	cb_put_uint(&b, FT_BOOL);
	cb_put_bool(&b, true);
	CHECK_EQ(snap_fields_decode(b.data, b.len, &tsub_desc, 1, &t, &err),
		 -ERANGE);
	CHECK(strstr(err.msg, "field 'b'") != NULL);
	/* A duplicate field. */
	b.len = 0;
	err_clear(&err);
	cb_put_map(&b, 2);
	cb_put_text(&b, "x", 1);
	cb_put_array(&b, 2);
	cb_put_uint(&b, FT_U16);
	cb_put_uint(&b, 1);
	cb_put_text(&b, "x", 1);
	cb_put_array(&b, 2);
	cb_put_uint(&b, FT_U16);
	cb_put_uint(&b, 2);
	CHECK_EQ(snap_fields_decode(b.data, b.len, &w16_d, 1, &w, &err),
		 -EBADMSG);
	CHECK(strstr(err.msg, "field 'x' appears twice") != NULL);
	/* A key with a NUL byte that matches a field name up to the NUL (found
	 * by the fuzzer: it once sent the name comparison past the name). */
	b.len = 0;
	err_clear(&err);
	cb_put_map(&b, 1);
	cb_put_text(&b, "x\0yzw", 5);
	cb_put_array(&b, 2);
	cb_put_uint(&b, FT_U16);
	cb_put_uint(&b, 1);
	CHECK_EQ(snap_fields_decode(b.data, b.len, &w16_d, 1, &w, &err),
		 -EBADMSG);
	CHECK(strstr(err.msg, "malformed field name") != NULL);
	snap_buf_free(&b);
}

static void snap_duplicate_section_is_refused(void)
{
	struct hyve_err err = {0};
	struct snap_machine *m = calloc(1, sizeof(*m));
	struct snap_buf b = {0};
	struct snap_reader *r = NULL;
	struct w16 w = {1};

	tmachine_fill(m);
	snap_stream_begin(&b);
	snap_stream_section(&b, SNAP_REC_MACHINE, 0, &snap_machine_desc,
			    "machine", 0, m, &err);
	snap_stream_section(&b, SNAP_REC_SECTION, 0, &w16_d, "pit", 0, &w,
			    &err);
	snap_stream_section(&b, SNAP_REC_SECTION, 0, &w16_d, "pit", 1, &w,
			    &err);
	snap_stream_section(&b, SNAP_REC_SECTION, 0, &w16_d, "pit", 0, &w,
			    &err);
	snap_stream_end(&b, &err);
	CHECK_EQ(err.code, 0);
	CHECK_EQ(snap_reader_open_mem(&r, b.data, b.len, &err), -EBADMSG);
	CHECK(strstr(err.msg, "section 'pit'.0 appears twice") != NULL);
	CHECK(r == NULL);
	snap_buf_free(&b);
	free(m);
}

static void snap_files_commit_and_inspect(void)
{
	char dir[] = "/tmp/hyve-snap-codec-XXXXXX", path[128], mem[160],
	     cmd[400];
	struct hyve_err err = {0};
	struct snap_reader *r = NULL;
	struct snap_ram_map *map = malloc(sizeof(*map));
	FILE *out;
	int ret;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/snap", dir);
	snprintf(mem, sizeof(mem), "%s/snap.mem", dir);
	CHECK_EQ(tsnap_write(path, &err), 0);
	CHECK(access(path, F_OK) == 0 && access(mem, F_OK) == 0);
	snprintf(cmd, sizeof(cmd), "%s/snap.tmp", dir);
	CHECK(access(cmd, F_OK) != 0);
	ret = snap_reader_open(&r, path, &err);
	CHECK_EQ(ret, 0);
	if (!ret) {
		CHECK_EQ(snap_section_count(r), 4);
		CHECK_EQ(snap_read_ram_map(r, map, &err), 0);
		CHECK_EQ(map->file_size, 64 << 10);
		CHECK_EQ(snap_ram_verify(mem, map, &err), 0);
		out = fopen("/dev/null", "w");
		CHECK_EQ(snap_inspect(r, SNAP_WALK_TEXT, out, &err), 0);
		CHECK_EQ(snap_inspect(r, SNAP_WALK_JSON, out, &err), 0);
		fclose(out);
		snap_reader_close(r);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ(system(cmd), 0);
	free(map);
}

static void snap_writer_abort_leaves_nothing(void)
{
	char dir[] = "/tmp/hyve-snap-abort-XXXXXX", path[128], cmd[200];
	struct hyve_err err = {0};
	struct snap_writer *w;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/snap", dir);
	CHECK_EQ(snap_writer_open(&w, path, &err), 0);
	/* A bad section name fails and the caller aborts. */
	CHECK_EQ(snap_write_section(w, &w16_d, "bad name", 0, &(struct w16){1},
				    0, &err),
		 -EINVAL);
	snap_writer_abort(w);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s)\" && rmdir %s", dir,
		 dir);
	CHECK_EQ(system(cmd), 0);
}

int main(void)
{
	RUN_TEST(snap_roundtrip_preserves_every_field_type);
	RUN_TEST(snap_machine_description_roundtrips);
	RUN_TEST(snap_type_mismatch_names_both_types);
	RUN_TEST(snap_size_mismatch_names_both_sizes);
	RUN_TEST(snap_unknown_field_fails_unless_optional);
	RUN_TEST(snap_missing_field_fails_and_newer_field_takes_default);
	RUN_TEST(snap_counts_and_strings_are_bounded_by_capacity);
	RUN_TEST(snap_out_of_range_values_fail_naming_the_field);
	RUN_TEST(snap_duplicate_section_is_refused);
	RUN_TEST(snap_files_commit_and_inspect);
	RUN_TEST(snap_writer_abort_leaves_nothing);
	return CHECK_DONE();
}

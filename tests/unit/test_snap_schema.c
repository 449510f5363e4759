/* The snapshot's wire schema is pinned two ways:
 *  - docs/snapshot-sections.md, the generated part of the specification,
 *    must equal what the state tables say today;
 *  - tests/fixtures/schema/TABLE.vN holds, for every section table and
 *    version ever released, its fields as frozen at that version.  A table
 *    whose fields changed while its version stayed the same fails here:
 *    that is the bug "changed a saved field without bumping the section
 *    version".
 * `test_snap_schema --freeze` writes the frozen file for a NEW version
 * (never overwriting an existing one). */
#include <stdlib.h>
#include <sys/stat.h>

#include "check.h"
#include "hyve/schema.h"

#define SCHEMA_DIR "tests/fixtures/schema"

static bool freeze;

static char *schema_text(void (*fn)(FILE *, const void *), const void *arg, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	fn(f, arg);
	fclose(f);
	return buf;
}

static void canon(FILE *f, const void *desc)
{
	snap_schema_canonical(f, desc);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	*len = fread(buf, 1, (size_t)n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static void frozen_schemas_match_every_section_version(void)
{
	struct snap_schema_entry s[96];
	unsigned n = snap_schema_sections(s, 96);

	CHECK(n > 10);
	for (unsigned i = 0; i < n; i++) {
		char path[256];
		size_t want_len, have_len;
		char *want = schema_text((void (*)(FILE *, const void *))canon, s[i].desc, &want_len);
		char *have;

		snprintf(path, sizeof(path), SCHEMA_DIR "/%s.v%u", s[i].desc->name, s[i].desc->version);
		have = read_file(path, &have_len);
		if (!have && freeze) {
			FILE *f = fopen(path, "wx");

			if (f) {
				fwrite(want, 1, want_len, f);
				fclose(f);
				printf("froze %s\n", path);
			}
			have = read_file(path, &have_len);
		}
		if (!have) {
			printf("  %s: no frozen schema for table '%s' version %u: a new or changed table needs a\n"
			       "  new version and `build/tests/test_snap_schema --freeze` (see docs/snapshot-format.md §8)\n",
			       path, s[i].desc->name, s[i].desc->version);
			CHECK(have != NULL);
		} else if (have_len != want_len || memcmp(have, want, want_len) != 0) {
			printf("  table '%s' version %u differs from its frozen schema %s:\n"
			       "  a saved field changed without a section version bump\n",
			       s[i].desc->name, s[i].desc->version, path);
			CHECK(!"schema changed without a version bump");
		}
		free(want);
		free(have);
	}
}

static void print_doc(FILE *f, const void *unused)
{
	struct snap_schema_entry s[96];
	unsigned n = snap_schema_sections(s, 96);

	(void)unused;
	for (unsigned i = 0; i < n; i++)
		snap_schema_markdown(f, s[i].section, s[i].desc);
}

static void spec_lists_every_section_and_field(void)
{
	size_t want_len, have_len;
	char *want = schema_text(print_doc, NULL, &want_len);
	char *have = read_file("docs/snapshot-sections.md", &have_len);

	CHECK(have != NULL);
	if (have && !strstr(have, want)) {
		printf("  docs/snapshot-sections.md is out of date: regenerate it with\n"
		       "  bin/hyvectl snapshot schema > docs/snapshot-sections.md\n");
		CHECK(!"docs/snapshot-sections.md matches the state tables");
	}
	free(want);
	free(have);
}

int main(int argc, char **argv)
{
	freeze = argc > 1 && strcmp(argv[1], "--freeze") == 0;
	mkdir(SCHEMA_DIR, 0755);
	RUN_TEST(frozen_schemas_match_every_section_version);
	RUN_TEST(spec_lists_every_section_and_field);
	return CHECK_DONE();
}

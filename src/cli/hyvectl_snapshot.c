/* hyvectl snapshot inspect PATH [--json] | verify PATH: read a snapshot
 * with no device code.  Exit 0, 1 with one line naming the error, or 2 for
 * a usage error. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hyve/cli.h"
#include "hyve/hyvectl.h"
#include "hyve/schema.h"
#include "hyve/snapshot.h"

static int snapcli_usage(void)
{
	fprintf(stderr, "usage: hyvectl snapshot inspect PATH [--json]\n"
			"       hyvectl snapshot verify PATH\n"
			"       hyvectl snapshot merge DIFF OUT\n"
			"       hyvectl snapshot schema\n");
	return 2;
}

static int snapcli_fail(const struct hyve_err *err)
{
	fprintf(stderr, "hyvectl: %s\n", err->msg);
	return 1;
}

/* The generated part of the specification: every section this hyve
 * writes, field by field (docs/snapshot-sections.md is this output). */
static int snapcli_schema(void)
{
	struct snap_schema_entry sections[96];
	unsigned n = snap_schema_sections(sections, 96);

	printf("# Snapshot sections written by hyve %s\n\n"
	       "Generated from the state tables by `hyvectl snapshot schema`; a unit test\n"
	       "(tests/unit/test_snap_schema.c) fails when this file and the code disagree.\n"
	       "Types and encodings are defined in snapshot-format.md section 4.2; \"since\" is\n"
	       "the table version a field first appeared in.  Nested tables carry their own\n"
	       "version.\n\n",
	       HYVE_VERSION);
	for (unsigned i = 0; i < n; i++)
		snap_schema_markdown(stdout, sections[i].section, sections[i].desc);
	return fflush(stdout) ? 1 : 0;
}

static int snapcli_inspect(const char *path, bool json)
{
	struct hyve_err err = {0};
	struct snap_reader *r;
	int ret;

	ret = snap_reader_open(&r, path, &err);
	if (ret)
		return snapcli_fail(&err);
	ret = snap_inspect(r, json ? SNAP_WALK_JSON : SNAP_WALK_TEXT, stdout,
			   &err);
	snap_reader_close(r);
	if (fflush(stdout) && !ret)
		ret = err_set(&err, EIO, "writing the output failed");
	return ret ? snapcli_fail(&err) : 0;
}

/* Everything a restore would read, short of device code: the header and
 * record checksums (at open), every body against the CBOR profile and field
 * rules (generic walk), the machine description, the RAM map and every
 * chunk of the RAM file. */
static int snapcli_verify(const char *path)
{
	struct hyve_err err = {0};
	struct snap_machine *m = malloc(sizeof(*m));
	struct snap_ram_map *map = malloc(sizeof(*map));
	struct snap_reader *r = NULL;
	char *mem = NULL;
	int ret;

	if (!m || !map || asprintf(&mem, "%s.mem", path) < 0) {
		mem = NULL;
		ret = err_set(&err, ENOMEM, "out of memory");
		goto out;
	}
	ret = snap_reader_open(&r, path, &err);
	if (!ret)
		ret = snap_inspect(r, SNAP_WALK_CHECK, NULL, &err);
	if (!ret)
		ret = snap_read_machine(r, m, &err);
	if (!ret)
		ret = snap_read_ram_map(r, map, &err);
	if (!ret) {
		ret = snap_ram_verify(mem, map, &err);
		if (ret && !strstr(err.msg, mem))
			err_prefix(&err, "%s: ", mem);
	}
	if (!ret)
		printf("%s: OK: %u records, %u sections, %u vCPUs, RAM file of "
		       "%" PRIu64 " bytes in %u chunks verified\n",
		       path, snap_record_count(r), snap_section_count(r),
		       m->nr_vcpus, map->file_size, map->nr_digests);
out:
	snap_reader_close(r);
	free(mem);
	free(map);
	free(m);
	return ret ? snapcli_fail(&err) : 0;
}

/* Folds an incremental chain into one full snapshot (§5.5). */
static int snapcli_merge(const char *diff, const char *out)
{
	struct hyve_err err = {0};

	if (snap_merge(diff, out, &err))
		return snapcli_fail(&err);
	printf("%s: merged into the full snapshot %s\n", diff, out);
	return 0;
}

int hyvectl_snapshot_main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "schema") == 0)
		return snapcli_schema();
	if (argc == 3 && strcmp(argv[1], "verify") == 0)
		return snapcli_verify(argv[2]);
	if (argc == 4 && strcmp(argv[1], "merge") == 0)
		return snapcli_merge(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "inspect") == 0)
		return snapcli_inspect(argv[2], false);
	if (argc == 4 && strcmp(argv[1], "inspect") == 0) {
		if (strcmp(argv[2], "--json") == 0)
			return snapcli_inspect(argv[3], true);
		if (strcmp(argv[3], "--json") == 0)
			return snapcli_inspect(argv[2], true);
	}
	return snapcli_usage();
}

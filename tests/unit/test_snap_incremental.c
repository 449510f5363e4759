/* Incremental snapshots without a VM (docs/snapshot-format.md §5.5): a diff
 * carries exactly its pages, a carried page that became zero is data in the
 * diff (not a hole, which would mean "the base's page"), a page changed but
 * not carried comes from the base, the chain loads and merges to the same
 * memory, and a replaced base is refused. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "hyve/snapshot.h"
#include "snap/ram_internal.h"

#define MEM_SIZE (4ULL << 20)
#define PAGES (MEM_SIZE / 4096)

static char tmpdir[] = "/tmp/hyve-incr-XXXXXX";

static void mem_init(struct guest_mem *gm)
{
	memset(gm, 0, sizeof(*gm));
	gm->fd = -1;
	gm->host = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	gm->size = MEM_SIZE;
	gm->nr_ranges = 1;
	gm->ranges[0] = (struct mem_range){ 0, MEM_SIZE, 0 };
}

static void page_fill(struct guest_mem *gm, unsigned pg, uint8_t v)
{
	memset(gm->host + (uint64_t)pg * 4096, v, 4096);
}

static uint8_t page_byte(const struct guest_mem *gm, unsigned pg)
{
	return gm->host[(uint64_t)pg * 4096 + 100];
}

/* Writes a snapshot of gm at path: full if diff is NULL. */
static int save(const char *path, struct guest_mem *gm, const struct snap_ram_diff *diff)
{
	struct snap_machine *m = calloc(1, sizeof(*m));
	struct hyve_err err = { 0 };
	struct snap_writer *w;
	int ret;

	m->nr_vcpus = 1;
	m->mem_size = MEM_SIZE;
	ret = snap_writer_open(&w, path, &err);
	if (ret)
		goto out;
	ret = snap_write_machine(w, m, &err);
	if (!ret)
		ret = diff ? snap_write_ram_diff(w, gm, diff, &err) : snap_write_ram(w, gm, &err);
	if (ret)
		snap_writer_abort(w);
	else
		ret = snap_writer_commit(w, &err);
out:
	if (ret)
		printf("  save %s: %s\n", path, err.msg);
	free(m);
	return ret;
}

/* Loads the snapshot (chain) at path into a fresh gm. */
static int load(const char *path, struct guest_mem *gm, struct hyve_err *err)
{
	struct snap_ram_map *map = malloc(sizeof(*map));
	struct snap_reader *r;
	int ret = snap_reader_open(&r, path, err);

	mem_init(gm);
	if (ret) {
		free(map);
		return ret;
	}
	ret = snap_read_ram_map(r, map, err);
	if (!ret)
		ret = snap_ram_load_chain(path, map, gm, err);
	snap_reader_close(r);
	free(map);
	return ret;
}

static char base[256], diff_path[256], merged[256], other[256];

static void diff_chain_loads_and_merges(void)
{
	struct guest_mem gm, out;
	uint64_t carried[PAGES / 64] = { 0 };
	struct snap_ram_diff diff = { base, 0, carried, PAGES };
	struct hyve_err err = { 0 };
	char mem[300];
	int fd;

	mem_init(&gm);
	for (unsigned pg = 0; pg < 10; pg++)
		page_fill(&gm, pg, (uint8_t)(0x10 + pg));
	CHECK_EQ(save(base, &gm, NULL), 0);
	CHECK_EQ(snap_file_id(base, &diff.base_id, &err), 0);
	/* Page 3 becomes zero, 5 changes, 20 gets data: carried.  Page 7
	 * changes but is not carried: the base's page must win. */
	page_fill(&gm, 3, 0);
	page_fill(&gm, 5, 0xa5);
	page_fill(&gm, 20, 0xb6);
	page_fill(&gm, 7, 0xee);
	carried[0] = 1ULL << 3 | 1ULL << 5 | 1ULL << 20;
	CHECK_EQ(save(diff_path, &gm, &diff), 0);

	/* The zero page is data in the diff, the rest of it holes. */
	snprintf(mem, sizeof(mem), "%s.mem", diff_path);
	fd = open(mem, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(lseek(fd, 0, SEEK_DATA), 3 * 4096);
	CHECK_EQ(lseek(fd, 4 * 4096, SEEK_DATA), 5 * 4096);
	CHECK_EQ(lseek(fd, 6 * 4096, SEEK_DATA), 20 * 4096);
	close(fd);

	CHECK_EQ(load(diff_path, &out, &err), 0);
	CHECK_EQ(page_byte(&out, 0), 0x10);
	CHECK_EQ(page_byte(&out, 3), 0);
	CHECK_EQ(page_byte(&out, 5), 0xa5);
	CHECK_EQ(page_byte(&out, 7), 0x17);
	CHECK_EQ(page_byte(&out, 9), 0x19);
	CHECK_EQ(page_byte(&out, 20), 0xb6);
	CHECK_EQ(page_byte(&out, 21), 0);
	munmap(out.host, MEM_SIZE);

	CHECK_EQ(snap_merge(diff_path, merged, &err), 0);
	CHECK_EQ(load(merged, &out, &err), 0);
	CHECK_EQ(page_byte(&out, 3), 0);
	CHECK_EQ(page_byte(&out, 4), 0x14);
	CHECK_EQ(page_byte(&out, 5), 0xa5);
	CHECK_EQ(page_byte(&out, 7), 0x17);
	CHECK_EQ(page_byte(&out, 20), 0xb6);
	munmap(out.host, MEM_SIZE);

	/* A base replaced by another snapshot is refused by identity. */
	page_fill(&gm, 0, 0x99);
	CHECK_EQ(save(other, &gm, NULL), 0);
	CHECK_EQ(rename(other, base), 0);
	snprintf(mem, sizeof(mem), "%s.mem", other);
	{
		char bmem[300];

		snprintf(bmem, sizeof(bmem), "%s.mem", base);
		CHECK_EQ(rename(mem, bmem), 0);
	}
	CHECK(load(diff_path, &out, &err) != 0);
	CHECK(strstr(err.msg, "not the base") != NULL);
	munmap(out.host, MEM_SIZE);
	munmap(gm.host, MEM_SIZE);
}

static void v1_map_loads_as_full(void)
{
	struct snap_reader *r;
	struct snap_ram_map *map = malloc(sizeof(*map));
	struct hyve_err err = { 0 };

	/* merged was written as a full snapshot: RAM map version 1. */
	CHECK_EQ(snap_reader_open(&r, merged, &err), 0);
	CHECK_EQ(snap_read_ram_map(r, map, &err), 0);
	CHECK_EQ(map->base[0], 0);
	CHECK_EQ(map->nr_carried, 0);
	snap_reader_close(r);
	free(map);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		printf("FAIL: mkdtemp\n");
		return 1;
	}
	snprintf(base, sizeof(base), "%s/base", tmpdir);
	snprintf(diff_path, sizeof(diff_path), "%s/diff", tmpdir);
	snprintf(merged, sizeof(merged), "%s/merged", tmpdir);
	snprintf(other, sizeof(other), "%s/other", tmpdir);
	RUN_TEST(diff_chain_loads_and_merges);
	RUN_TEST(v1_map_loads_as_full);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd))
			printf("  could not remove %s\n", tmpdir);
	}
	return CHECK_DONE();
}

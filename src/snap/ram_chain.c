/* Incremental snapshots (docs/snapshot-format.md §5.5): a diff's RAM file
 * holds only the pages its RAM map marks as carried, the rest come from its
 * base, which may itself be a diff.  A chain is loaded newest first: each
 * page is taken from the newest link that carries it, the pages no diff
 * carries from the full snapshot at the root.  Every link's RAM file is
 * checked against its own digests, and every base against the identity
 * (XXH3-64 of its state file) that the diff recorded, so a base replaced
 * by another snapshot of the same name is refused, not merged. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "snap/ram_internal.h"

#define CHAIN_PATH_MAX 4200

int snap_file_id(const char *path, uint64_t *id, struct hyve_err *err)
{
	struct stat st;
	uint8_t *buf;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return err_set(err, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > SNAP_STATE_MAX) {
		close(fd);
		return err_set(err, EINVAL, "%s: not a snapshot state file", path);
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		close(fd);
		return err_set(err, ENOMEM, "%s: out of memory", path);
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	if (done != (size_t)st.st_size) {
		free(buf);
		return err_set(err, EIO, "%s: short read", path);
	}
	*id = XXH3_64bits(buf, done);
	free(buf);
	return 0;
}

static bool chain_bit(const uint64_t *bits, uint64_t p)
{
	return bits[p / 64] >> (p % 64) & 1;
}

static int chain_pread(int fd, uint8_t *dst, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, dst, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		dst += n, len -= (uint64_t)n, off += (uint64_t)n;
	}
	return 0;
}

/* Copies the pages of [from, to) (RAM-file offsets of range r) that this
 * link provides and no newer link did, in runs. */
static int chain_copy_extent(int fd, const struct snap_ram_map *map, unsigned r, struct guest_mem *gm,
			     uint64_t *filled, uint64_t from, uint64_t to)
{
	const struct snap_ram_range *rg = &map->ranges[r];
	uint64_t run = 0, run_len = 0;
	int ret = 0;

	for (uint64_t off = from; off <= to && !ret; off += RAM_PAGE) {
		uint64_t p = off / RAM_PAGE;
		bool take = off < to && !chain_bit(filled, p) && (!map->base[0] || chain_bit(map->carried, p));

		if (take && run_len && run + run_len == off) {
			run_len += RAM_PAGE;
			continue;
		}
		if (run_len)
			ret = chain_pread(fd, gm->host + gm->ranges[r].offset + (run - rg->offset), run_len, run);
		run_len = 0;
		if (take)
			run = off, run_len = RAM_PAGE;
		if (off < to && (take || (map->base[0] && chain_bit(map->carried, p))))
			filled[p / 64] |= 1ULL << (p % 64);
	}
	return ret;
}

static int chain_copy(int fd, const struct snap_ram_map *map, struct guest_mem *gm, uint64_t *filled)
{
	for (unsigned r = 0; r < map->nr_ranges; r++) {
		uint64_t pos = map->ranges[r].offset, end = pos + map->ranges[r].size, ds, de;
		int ret;

		if (map->base[0]) {
			ret = chain_copy_extent(fd, map, r, gm, filled, pos, end);
			if (ret)
				return ret;
			continue;
		}
		/* The root: holes are zero and gm is fresh, only data is read. */
		while (pos < end && ram_next_data(fd, pos, end, &ds, &de)) {
			ret = chain_copy_extent(fd, map, r, gm, filled, ds, de);
			if (ret)
				return ret;
			pos = de;
		}
	}
	return 0;
}

/* The base a diff names: as recorded, or if that does not exist the same
 * file name beside the diff (a chain copied elsewhere as a whole). */
static void chain_base_path(const char *diff, const char *base, char *out, size_t size)
{
	char dir[CHAIN_PATH_MAX], name[CHAIN_PATH_MAX];
	struct stat st;

	if (stat(base, &st) == 0) {
		snprintf(out, size, "%s", base);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", diff);
	snprintf(name, sizeof(name), "%s", base);
	snprintf(out, size, "%s/%s", dirname(dir), basename(name));
	if (stat(out, &st) != 0)
		snprintf(out, size, "%s", base);
}

static int chain_same_layout(const struct snap_ram_map *a, const struct snap_ram_map *b)
{
	if (a->nr_ranges != b->nr_ranges || a->file_size != b->file_size)
		return 0;
	for (unsigned i = 0; i < a->nr_ranges; i++)
		if (a->ranges[i].gpa != b->ranges[i].gpa || a->ranges[i].size != b->ranges[i].size ||
		    a->ranges[i].offset != b->ranges[i].offset)
			return 0;
	return 1;
}

/* Reads the RAM map of state file path into map. */
static int chain_read_map(const char *path, struct snap_ram_map *map, struct hyve_err *err)
{
	struct snap_reader *r;
	int ret = snap_reader_open(&r, path, err);

	if (ret)
		return ret;
	ret = snap_read_ram_map(r, map, err);
	snap_reader_close(r);
	if (!ret)
		ret = snap_ram_map_check(map, err);
	if (ret)
		err_prefix(err, "%s: ", path);
	return ret;
}

int snap_ram_load_chain(const char *state_path, const struct snap_ram_map *map, struct guest_mem *gm,
			struct hyve_err *err)
{
	char path[CHAIN_PATH_MAX], next[CHAIN_PATH_MAX], mem[CHAIN_PATH_MAX + 8];
	const struct snap_ram_map *cur = map;
	struct snap_ram_map *link = NULL;
	uint64_t *filled = NULL, id;
	int ret = 0;

	if (!map->base[0]) {
		snprintf(mem, sizeof(mem), "%s.mem", state_path);
		return snap_ram_load(mem, map, gm, err);
	}
	if (gm->nr_ranges != map->nr_ranges)
		return err_set(err, EINVAL, "RAM map has %u ranges, the machine %u", map->nr_ranges, gm->nr_ranges);
	for (unsigned i = 0; i < gm->nr_ranges; i++)
		if (gm->ranges[i].gpa != map->ranges[i].gpa || gm->ranges[i].size != map->ranges[i].size ||
		    gm->ranges[i].offset > gm->size || gm->ranges[i].size > gm->size - gm->ranges[i].offset)
			return err_set(err, EINVAL, "RAM map range %u does not match the machine's", i);
	filled = calloc(map->file_size / RAM_PAGE / 64 + 1, sizeof(uint64_t));
	link = malloc(sizeof(*link));
	if (!filled || !link) {
		ret = err_set(err, ENOMEM, "incremental restore: out of memory");
		goto out;
	}
	snprintf(path, sizeof(path), "%s", state_path);
	for (unsigned depth = 0;; depth++) {
		int fd;

		if (depth == SNAP_CHAIN_MAX) {
			ret = err_set(err, ELOOP, "chain longer than %d snapshots (merge it)", SNAP_CHAIN_MAX);
			break;
		}
		if (!chain_same_layout(cur, map)) {
			ret = err_set(err, EINVAL, "base %s has another RAM layout than the diff", path);
			break;
		}
		snprintf(mem, sizeof(mem), "%s.mem", path);
		ret = snap_ram_verify(mem, cur, err);
		if (ret)
			break;
		fd = open(mem, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			ret = err_set(err, errno, "%s: %s", mem, strerror(errno));
			break;
		}
		ret = chain_copy(fd, cur, gm, filled);
		close(fd);
		if (ret) {
			err_set(err, -ret, "%s: read: %s", mem, strerror(-ret));
			break;
		}
		if (!cur->base[0])
			break; /* the root: every other page is zero */
		chain_base_path(path, cur->base, next, sizeof(next));
		ret = snap_file_id(next, &id, err);
		if (ret) {
			err_prefix(err, "base of %s: ", path);
			break;
		}
		if (id != cur->base_id) {
			ret = err_set(err, EINVAL,
				      "%s is not the base %s was taken from (it was replaced by another snapshot)",
				      next, path);
			break;
		}
		snprintf(path, sizeof(path), "%s", next);
		ret = chain_read_map(path, link, err);
		if (ret)
			break;
		cur = link;
	}
out:
	free(filled);
	free(link);
	return ret;
}

int snap_merge(const char *diff, const char *out, struct hyve_err *err)
{
	struct snap_ram_map *map = malloc(sizeof(*map));
	struct snap_reader *r = NULL;
	struct snap_writer *w = NULL;
	struct guest_mem gm = { .fd = -1 };
	int ret;

	if (!map)
		return err_set(err, ENOMEM, "merge: out of memory");
	ret = snap_reader_open(&r, diff, err);
	if (!ret)
		ret = snap_read_ram_map(r, map, err);
	if (!ret)
		ret = snap_ram_map_check(map, err);
	if (ret)
		goto out;
	gm.nr_ranges = map->nr_ranges;
	gm.size = map->file_size;
	for (unsigned i = 0; i < map->nr_ranges; i++)
		gm.ranges[i] = (struct mem_range){ map->ranges[i].gpa, map->ranges[i].size, map->ranges[i].offset };
	gm.host = mmap(NULL, gm.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (gm.host == MAP_FAILED) {
		gm.host = NULL;
		ret = err_set(err, errno, "merge: %s", strerror(errno));
		goto out;
	}
	ret = snap_ram_load_chain(diff, map, &gm, err);
	if (!ret)
		ret = snap_writer_open(&w, out, err);
	for (unsigned i = 0; !ret && i < snap_record_count(r); i++) {
		const struct snap_record *rec = snap_record_at(r, i);

		if (rec->type == SNAP_REC_RAM_MAP || rec->type == SNAP_REC_END)
			continue;
		ret = snap_write_record(w, rec->type, rec->flags, snap_reader_data(r) + rec->body, rec->length, err);
	}
	if (!ret)
		ret = snap_write_ram(w, &gm, err);
	if (ret) {
		snap_writer_abort(w);
	} else {
		ret = snap_writer_commit(w, err);
	}
out:
	if (ret)
		err_prefix(err, "merge %s: ", diff);
	if (gm.host)
		munmap(gm.host, gm.size);
	if (r)
		snap_reader_close(r);
	free(map);
	return ret;
}

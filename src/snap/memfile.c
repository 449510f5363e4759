/* The RAM file PATH.mem (docs/snapshot-format.md §5.3, §5.4): guest RAM at
 * page-aligned offsets, zero pages left as holes, one XXH3-64 digest per
 * chunk.  This file checks maps and opens RAM files for reading; the chunk
 * engine that writes, digests, verifies and loads them on several threads
 * is ram_write.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "snap/ram_internal.h"

#define RAM_FILE_MAX (1ULL << 40)

int snap_ram_map_check(const struct snap_ram_map *m, struct hyve_err *err)
{
	uint64_t chunks = 0;

	if (m->page_size != RAM_PAGE)
		return err_set(err, EBADMSG,
			       "page size %u, this hyve uses %llu",
			       m->page_size, RAM_PAGE);
	if (m->chunk_size == 0 || m->chunk_size % RAM_PAGE ||
	    m->chunk_size > RAM_FILE_MAX)
		return err_set(err, EBADMSG, "bad chunk size %" PRIu64,
			       m->chunk_size);
	if (m->file_size > RAM_FILE_MAX || m->file_size % RAM_PAGE)
		return err_set(err, EBADMSG, "bad RAM file size %" PRIu64,
			       m->file_size);
	if (m->nr_ranges == 0)
		return err_set(err, EBADMSG, "no RAM ranges");
	for (unsigned i = 0; i < m->nr_ranges; i++) {
		const struct snap_ram_range *a = &m->ranges[i];

		if ((a->gpa | a->size | a->offset) % RAM_PAGE || a->size == 0 ||
		    a->size > m->file_size ||
		    a->offset > m->file_size - a->size ||
		    a->gpa > UINT64_MAX - a->size)
			return err_set(
			    err, EBADMSG,
			    "range %u (gpa 0x%" PRIx64 ", size 0x%" PRIx64
			    ", offset 0x%" PRIx64
			    ") is misaligned or outside the RAM file",
			    i, a->gpa, a->size, a->offset);
		for (unsigned k = 0; k < i; k++) {
			const struct snap_ram_range *b = &m->ranges[k];

			if ((a->gpa < b->gpa + b->size &&
			     b->gpa < a->gpa + a->size) ||
			    (a->offset < b->offset + b->size &&
			     b->offset < a->offset + a->size))
				return err_set(err, EBADMSG,
					       "ranges %u and %u overlap", k,
					       i);
		}
		chunks += ram_chunks(a->size, m->chunk_size);
	}
	if (chunks != m->nr_digests)
		return err_set(err, EBADMSG,
			       "%u digests for %" PRIu64 " chunks",
			       m->nr_digests, chunks);
	/* §5.5: a diff carries one bit per page of its RAM file. */
	if (m->base[0] &&
	    (uint64_t)m->nr_carried != (m->file_size / RAM_PAGE + 63) / 64)
		return err_set(err, EBADMSG,
			       "%u words of carried pages for a RAM file of %" PRIu64
			       " pages",
			       m->nr_carried, (uint64_t)(m->file_size / RAM_PAGE));
	if (!m->base[0] && (m->nr_carried || m->base_id))
		return err_set(err, EBADMSG,
			       "carried pages without a base snapshot");
	return 0;
}

static int ram_open(const char *mem_path, const struct snap_ram_map *map,
		    struct hyve_err *err)
{
	struct stat st;
	int fd, ret;

	ret = snap_ram_map_check(map, err);
	if (ret)
		return ret;
	fd = open(mem_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errno, "RAM file %s: %s", mem_path,
			       strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(err, EINVAL, "RAM file %s: not a regular file",
			       mem_path);
	}
	if ((uint64_t)st.st_size != map->file_size) {
		close(fd);
		return err_set(
		    err, EBADMSG,
		    "RAM file %s is %lld bytes, the RAM map says %" PRIu64,
		    mem_path, (long long)st.st_size, map->file_size);
	}
	return fd;
}

int snap_ram_verify(const char *mem_path, const struct snap_ram_map *map,
		    struct hyve_err *err)
{
	int fd = ram_open(mem_path, map, err), ret;

	if (fd < 0)
		return fd;
	ret = ram_check_file(fd, map, NULL, err);
	close(fd);
	return ret;
}

int snap_ram_load(const char *mem_path, const struct snap_ram_map *map,
		  struct guest_mem *gm, struct hyve_err *err)
{
	int fd, ret;

	if (gm->nr_ranges != map->nr_ranges)
		return err_set(err, EINVAL,
			       "RAM map has %u ranges, the machine %u",
			       map->nr_ranges, gm->nr_ranges);
	for (unsigned i = 0; i < gm->nr_ranges; i++)
		if (gm->ranges[i].gpa != map->ranges[i].gpa ||
		    gm->ranges[i].size != map->ranges[i].size ||
		    gm->ranges[i].offset > gm->size ||
		    gm->ranges[i].size > gm->size - gm->ranges[i].offset)
			return err_set(
			    err, EINVAL,
			    "RAM map range %u (gpa 0x%" PRIx64 ", 0x%" PRIx64
			    " bytes) does not match the machine's",
			    i, map->ranges[i].gpa, map->ranges[i].size);
	fd = ram_open(mem_path, map, err);
	if (fd < 0)
		return fd;
	ret = ram_check_file(fd, map, gm, err);
	close(fd);
	return ret;
}

static int ram_read_exact(int fd, uint8_t *buf, uint64_t len, uint64_t off)
{
	for (uint64_t done = 0; done < len;) {
		ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (uint64_t)n;
	}
	return 0;
}

/* A lazy restore checks no digest in full (that would read the whole
 * file), but it must not run on a RAM file that belongs to another state
 * file: a crash between the two renames of a save, or files copied apart,
 * can leave a RAM file of the right size beside the wrong state file.  The
 * first chunk of each range (a guest's low memory and kernel change between
 * any two snapshots) and one chunk from the middle are read and checked. */
int snap_ram_spot_check(const char *mem_path, const struct snap_ram_map *map,
			struct hyve_err *err)
{
	int fd = ram_open(mem_path, map, err), ret = 0;
	uint64_t base = 0;
	uint8_t *buf;

	if (fd < 0)
		return fd;
	buf = malloc(map->chunk_size);
	if (!buf) {
		close(fd);
		return err_set(err, ENOMEM, "RAM check: out of memory");
	}
	for (unsigned r = 0; r < map->nr_ranges && !ret; r++) {
		const struct snap_ram_range *rg = &map->ranges[r];
		uint64_t nr = ram_chunks(rg->size, map->chunk_size);
		uint64_t pick[2] = { 0, nr / 2 };

		for (unsigned k = 0; k < 2 && !ret; k++) {
			uint64_t c = pick[k], off = c * map->chunk_size;
			uint64_t len = rg->size - off < map->chunk_size ? rg->size - off : map->chunk_size;

			if (k == 1 && pick[1] == pick[0])
				break;
			if (ram_read_exact(fd, buf, len, rg->offset + off))
				ret = err_set(err, errno ? errno : EIO, "RAM file %s: read failed", mem_path);
			else if (XXH3_64bits(buf, len) != map->digests[base + c])
				ret = err_set(err, EBADMSG,
					      "RAM file %s does not belong to this state file "
					      "(chunk %" PRIu64 " of range %u has another digest)",
					      mem_path, c, r);
		}
		base += nr;
	}
	free(buf);
	close(fd);
	return ret;
}

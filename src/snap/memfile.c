/* The RAM file PATH.mem (docs/snapshot-format.md §5.3, §5.4): guest RAM at
 * page-aligned offsets, zero pages left as holes, one XXH3-64 digest per
 * chunk.  Holes of the source (memfd or RAM file) are found with
 * SEEK_DATA/SEEK_HOLE so that untouched guest memory is neither read (which
 * would allocate shmem pages) nor written. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "hyve/snapshot.h"

#define RAM_PAGE     GUEST_PAGE_SIZE
#define RAM_RUN_MAX  (1u << 20) /* bytes per pread/pwrite */
#define RAM_FILE_MAX (1ULL << 40)

static const uint8_t ram_zero_page[RAM_PAGE];

/* Where the data extents of fd lie, looked up lazily as offsets grow. */
struct ram_extents {
	int fd;
	bool all_data;
	uint64_t data_start, data_end;
};

static void ram_extents_init(struct ram_extents *e, int fd)
{
	e->fd = fd;
	e->all_data = fd < 0;
	e->data_start = e->data_end = 0;
}

/* Callers ask for monotonically growing page offsets. */
static bool ram_page_has_data(struct ram_extents *e, uint64_t pos)
{
	off_t d, h;

	if (e->all_data || (pos >= e->data_start && pos < e->data_end))
		return true;
	if (pos < e->data_start)
		return false;
	d = lseek(e->fd, (off_t)pos, SEEK_DATA);
	if (d < 0) {
		if (errno == ENXIO) { /* only a hole from here on */
			e->data_start = e->data_end = UINT64_MAX;
			return false;
		}
		e->all_data = true; /* no hole support: read everything */
		return true;
	}
	h = lseek(e->fd, d, SEEK_HOLE);
	e->data_start = (uint64_t)d & ~(RAM_PAGE - 1);
	e->data_end =
	    h < 0 ? UINT64_MAX : ((uint64_t)h + RAM_PAGE - 1) & ~(RAM_PAGE - 1);
	return pos >= e->data_start && pos < e->data_end;
}

static uint64_t ram_chunks(uint64_t size, uint64_t chunk)
{
	return size / chunk + (size % chunk != 0);
}

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
	return 0;
}

static int ram_pwrite_all(int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n, len -= (uint64_t)n, off += (uint64_t)n;
	}
	return 0;
}

static int ram_pread_all(int fd, uint8_t *p, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n, len -= (uint64_t)n, off += (uint64_t)n;
	}
	return 0;
}

int snap_ram_write(int fd, const struct guest_mem *gm, struct snap_ram_map *map,
		   struct hyve_err *err)
{
	uint64_t chunk = SNAP_RAM_CHUNK_MIN, total;
	struct ram_extents ext;
	XXH3_state_t st;
	unsigned n = 0;
	int ret;

	memset(map, 0, sizeof(*map));
	if (gm->nr_ranges == 0 || gm->nr_ranges > SNAP_RAM_MAX_RANGES)
		return err_set(err, EINVAL, "RAM: %u ranges", gm->nr_ranges);
	do {
		total = 0;
		for (unsigned i = 0; i < gm->nr_ranges; i++)
			total += ram_chunks(gm->ranges[i].size, chunk);
	} while (total > SNAP_RAM_MAX_CHUNKS && (chunk *= 2));
	map->page_size = RAM_PAGE;
	map->chunk_size = chunk;
	map->nr_ranges = gm->nr_ranges;
	for (unsigned i = 0; i < gm->nr_ranges; i++) {
		const struct mem_range *r = &gm->ranges[i];

		map->ranges[i] =
		    (struct snap_ram_range){r->gpa, r->size, r->offset};
		if (r->offset + r->size > map->file_size)
			map->file_size = r->offset + r->size;
	}
	map->nr_digests = (uint32_t)total;
	ret = snap_ram_map_check(map, err);
	if (ret)
		return ret;
	ram_extents_init(&ext, gm->fd);
	for (unsigned i = 0; i < gm->nr_ranges; i++) {
		const struct mem_range *r = &gm->ranges[i];

		for (uint64_t c = 0; c < r->size; c += chunk) {
			uint64_t end =
			    r->offset + c +
			    (r->size - c < chunk ? r->size - c : chunk);
			uint64_t run = 0, run_len = 0;

			XXH3_64bits_reset(&st);
			for (uint64_t pos = r->offset + c; pos <= end;
			     pos += RAM_PAGE) {
				const uint8_t *p = gm->host + pos;
				bool data =
				    pos < end && ram_page_has_data(&ext, pos) &&
				    memcmp(p, ram_zero_page, RAM_PAGE) != 0;

				if (pos < end)
					XXH3_64bits_update(
					    &st, data ? p : ram_zero_page,
					    RAM_PAGE);
				if (run_len &&
				    (!data || run_len == RAM_RUN_MAX)) {
					ret = ram_pwrite_all(fd, gm->host + run,
							     run_len, run);
					if (ret)
						return err_set(
						    err, ret,
						    "RAM file: write at offset "
						    "0x%" PRIx64 ": %s",
						    run, strerror(-ret));
					run_len = 0;
				}
				if (data) {
					if (!run_len)
						run = pos;
					run_len += RAM_PAGE;
				}
			}
			map->digests[n++] = XXH3_64bits_digest(&st);
		}
	}
	if (ftruncate(fd, (off_t)map->file_size))
		return err_set(err, errno, "RAM file: ftruncate: %s",
			       strerror(errno));
	return 0;
}

/* Reads every chunk of the RAM file (holes as zeroes) and checks its digest.
 * With gm, data goes into guest memory (holes are left alone: gm is fresh
 * and zero); without, into a bounce buffer. */
static int ram_read_chunks(int fd, const struct snap_ram_map *map,
			   struct guest_mem *gm, struct hyve_err *err)
{
	uint8_t *bounce = NULL;
	struct ram_extents ext;
	XXH3_state_t st;
	unsigned n = 0;
	int ret = 0;

	if (!gm && !(bounce = malloc(RAM_RUN_MAX)))
		return err_set(err, ENOMEM, "out of memory");
	ram_extents_init(&ext, fd);
	for (unsigned i = 0; i < map->nr_ranges; i++) {
		const struct snap_ram_range *r = &map->ranges[i];
		uint8_t *dest = gm ? gm->host + gm->ranges[i].offset : NULL;

		for (uint64_t c = 0; c < r->size; c += map->chunk_size) {
			uint64_t len = r->size - c < map->chunk_size
					   ? r->size - c
					   : map->chunk_size;
			uint64_t run = 0, run_len = 0;

			XXH3_64bits_reset(&st);
			for (uint64_t o = c; o <= c + len; o += RAM_PAGE) {
				bool data =
				    o < c + len &&
				    ram_page_has_data(&ext, r->offset + o);

				if (run_len &&
				    (!data || run_len == RAM_RUN_MAX)) {
					uint8_t *p = dest ? dest + run : bounce;

					ret = ram_pread_all(fd, p, run_len,
							    r->offset + run);
					if (ret) {
						ret = err_set(
						    err, ret,
						    "RAM file: read at offset "
						    "0x%" PRIx64 " failed (%s)",
						    r->offset + run,
						    strerror(-ret));
						goto out;
					}
					XXH3_64bits_update(&st, p, run_len);
					run_len = 0;
				}
				if (data) {
					if (!run_len)
						run = o;
					run_len += RAM_PAGE;
				} else if (o < c + len) {
					XXH3_64bits_update(&st, ram_zero_page,
							   RAM_PAGE);
				}
			}
			if (XXH3_64bits_digest(&st) != map->digests[n]) {
				ret = err_set(
				    err, EBADMSG,
				    "RAM file: chunk %u (guest 0x%" PRIx64
				    "..0x%" PRIx64
				    ") does not match its digest",
				    n, r->gpa + c, r->gpa + c + len - 1);
				goto out;
			}
			n++;
		}
	}
out:
	free(bounce);
	return ret;
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
	ret = ram_read_chunks(fd, map, NULL, err);
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
	ret = ram_read_chunks(fd, map, gm, err);
	close(fd);
	return ret;
}

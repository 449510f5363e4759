/* Writing the RAM file PATH.mem (docs/snapshot-format.md §5.4) from several
 * threads.
 *
 * The work is cut at digest chunks (§5.3): each thread takes the next
 * chunk, finds its data with SEEK_DATA on the memfd (never-touched guest
 * memory is neither read, which would allocate shmem pages, nor written),
 * skips zero pages (they stay holes, so the file's allocated size is its
 * non-zero bytes) and writes runs of up to 8 MiB straight from guest memory
 * with pwrite (to the page cache, or with O_DIRECT to the disk: the writer
 * chooses the fd).  snap_ram_write hashes on the way; ram_write_data leaves
 * the digests to ram_digest_file (ram_chunks.c), after the guest runs on.
 *
 * A guest restored lazily has no memfd: its RAM is the previous RAM file
 * mapped privately.  Its pages then have data where that file has data or
 * where the guest touched them (present in /proc/self/pagemap); everything
 * else reads as zero without being looked at. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "snap/ram_internal.h"

#define RAM_WRITE_MAX	(8u << 20) /* bytes per pwrite */
#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_SWAPPED (1ULL << 62)

static const uint8_t ram_zero_page[RAM_PAGE];

/* Where a restored guest's RAM came from (ram_set_origin). */
static struct {
	const uint8_t *host;
	int fd;
	uint64_t size;
} ram_origin = {NULL, -1, 0};

void ram_set_origin(const struct guest_mem *gm, int file_fd)
{
	if (ram_origin.fd >= 0 && ram_origin.fd != file_fd)
		close(ram_origin.fd);
	ram_origin.host = gm->host;
	ram_origin.fd = file_fd;
	ram_origin.size = gm->size;
}

struct ram_chunk_ctx {
	struct ram_writer *w;
	XXH3_state_t st;
	uint64_t run, run_len;
};

static void ram_hash(struct ram_chunk_ctx *cx, const uint8_t *p)
{
	if (cx->w->hash)
		XXH3_64bits_update(&cx->st, p, RAM_PAGE);
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

static int ram_flush_run(struct ram_chunk_ctx *cx)
{
	struct ram_writer *w = cx->w;
	int ret;

	if (!cx->run_len)
		return 0;
	ret =
	    ram_pwrite_all(w->fd, w->gm->host + cx->run, cx->run_len, cx->run);
	cx->run_len = 0;
	return ret;
}

/* Appends the page at pos to the current run (a new run if not adjacent
 * or the run is full). */
static int ram_append(struct ram_chunk_ctx *cx, uint64_t pos)
{
	if (cx->run_len &&
	    (cx->run + cx->run_len != pos || cx->run_len >= RAM_WRITE_MAX)) {
		int ret = ram_flush_run(cx);

		if (ret)
			return ret;
	}
	if (!cx->run_len)
		cx->run = pos;
	cx->run_len += RAM_PAGE;
	return 0;
}

/* One page that may hold data: hashed, and appended to the current run or
 * ends it. */
static int ram_page(struct ram_chunk_ctx *cx, uint64_t pos)
{
	const uint8_t *p = cx->w->gm->host + pos;

	if (ram_page_is_zero(p)) {
		ram_hash(cx, ram_zero_page);
		return ram_flush_run(cx);
	}
	ram_hash(cx, p);
	return ram_append(cx, pos);
}

/* [pos, end) of a restored guest that its RAM file has as a hole: pages the
 * guest touched are present in the page tables; the rest are zero. */
static int ram_origin_hole(struct ram_chunk_ctx *cx, uint64_t pos, uint64_t end)
{
	uint64_t ent[512];

	while (pos < end) {
		uint64_t n = (end - pos) / RAM_PAGE;
		uint64_t vpn =
		    (uint64_t)(uintptr_t)(cx->w->gm->host + pos) / RAM_PAGE;
		ssize_t got;
		int ret;

		if (n > 512)
			n = 512;
		got = cx->w->pagemap < 0
			  ? -1
			  : pread(cx->w->pagemap, ent, n * 8, (off_t)(vpn * 8));
		if (got != (ssize_t)(n * 8))
			for (uint64_t i = 0; i < n; i++)
				ent[i] = PAGEMAP_PRESENT; /* unknown: look at
							     every page */
		for (uint64_t i = 0; i < n; i++, pos += RAM_PAGE) {
			if (ent[i] & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED)) {
				ret = ram_page(cx, pos);
			} else {
				ram_hash(cx, ram_zero_page);
				ret = ram_flush_run(cx);
			}
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int ram_data(struct ram_chunk_ctx *cx, uint64_t pos, uint64_t end)
{
	int ret;

	/* One call faults the whole extent in, instead of one fault per
	 * page as the loop below reads it (errors only cost speed). */
	madvise(cx->w->gm->host + pos, end - pos, MADV_POPULATE_READ);
	for (; pos < end; pos += RAM_PAGE)
		if ((ret = ram_page(cx, pos)) != 0)
			return ret;
	return 0;
}

/* [pos, end) of chunk idx in guest memory (= in the RAM file). */
static void ram_chunk_bounds(const struct ram_writer *w, unsigned idx,
			     uint64_t *pos, uint64_t *end)
{
	uint64_t chunk = w->map->chunk_size;
	const struct mem_range *r;
	unsigned i = 0;

	while (idx >= w->first[i + 1])
		i++;
	r = &w->gm->ranges[i];
	*pos = r->offset + (uint64_t)(idx - w->first[i]) * chunk;
	*end = *pos + (r->offset + r->size - *pos < chunk
			   ? r->offset + r->size - *pos
			   : chunk);
}

/* An incremental snapshot's chunk: exactly the carried pages are written,
 * a carried zero page too (a hole would mean "the base's page"). */
static int ram_write_diff_chunk(struct ram_writer *w, struct ram_seek *sc,
				uint8_t *buf, unsigned idx)
{
	struct ram_chunk_ctx cx = {.w = w};
	uint64_t pos, end;
	int ret = 0;

	(void)sc, (void)buf;
	ram_chunk_bounds(w, idx, &pos, &end);
	XXH3_64bits_reset(&cx.st);
	for (; pos < end && !ret; pos += RAM_PAGE) {
		uint64_t pg = pos / RAM_PAGE;

		if (pg < w->nr_pages && (w->carried[pg / 64] >> (pg % 64) & 1)) {
			ram_hash(&cx, w->gm->host + pos);
			ret = ram_append(&cx, pos);
		} else {
			ram_hash(&cx, ram_zero_page);
			ret = ram_flush_run(&cx);
		}
	}
	if (!ret)
		ret = ram_flush_run(&cx);
	w->map->digests[idx] = XXH3_64bits_digest(&cx.st);
	return ret;
}

static int ram_write_chunk(struct ram_writer *w, struct ram_seek *sc,
			   unsigned idx, uint64_t *digest)
{
	struct ram_chunk_ctx cx = {.w = w};
	uint64_t pos, end, ds, de;
	bool origin = w->gm->fd < 0 && ram_origin.fd >= 0 &&
		      ram_origin.host == w->gm->host;
	int src = origin ? ram_origin.fd : w->gm->fd, ret = 0;

	ram_chunk_bounds(w, idx, &pos, &end);
	if (!ram_next_data_cached(sc, src, pos, end, &ds, &de) && !origin) {
		*digest = ram_zero_digest(end - pos);
		return 0;
	}
	XXH3_64bits_reset(&cx.st);
	while (pos < end) {
		if (!ram_next_data_cached(sc, src, pos, end, &ds, &de))
			ds = de = end;
		if (ds > pos) {
			if (origin) {
				ret = ram_origin_hole(&cx, pos, ds);
				if (ret)
					return ret;
			} else {
				for (uint64_t p = pos; p < ds && w->hash;
				     p += RAM_PAGE)
					ram_hash(&cx, ram_zero_page);
			}
		}
		ret = ram_flush_run(&cx);
		if (!ret && de > ds)
			ret = ram_data(&cx, ds, de);
		if (ret)
			return ret;
		pos = de;
	}
	ret = ram_flush_run(&cx);
	*digest = XXH3_64bits_digest(&cx.st);
	return ret;
}

static int ram_write_one(struct ram_writer *w, struct ram_seek *sc,
			 uint8_t *buf, unsigned idx)
{
	(void)buf;
	return ram_write_chunk(w, sc, idx, &w->map->digests[idx]);
}

/* The RAM map's layout for gm (digests not yet known). */
static int ram_layout(struct ram_writer *w, const struct guest_mem *gm,
		      struct snap_ram_map *map, struct hyve_err *err)
{
	uint64_t chunk = SNAP_RAM_CHUNK_MIN, total;

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
	ram_writer_init(w, map, err);
	return snap_ram_map_check(map, err);
}

static int ram_write_common(int fd, const struct guest_mem *gm,
			    struct snap_ram_map *map, bool hash,
			    const struct snap_ram_diff *diff,
			    struct hyve_err *err)
{
	struct ram_writer w;
	int ret;

	ret = ram_layout(&w, gm, map, err);
	if (ret)
		return ret;
	/* Size first: extents written later then never extend the file. */
	if (ftruncate(fd, (off_t)map->file_size))
		return err_set(err, errno, "RAM file: ftruncate: %s",
			       strerror(errno));
	w.fd = fd;
	w.gm = gm;
	w.hash = hash;
	w.fn = diff ? ram_write_diff_chunk : ram_write_one;
	if (diff) {
		w.carried = diff->carried;
		w.nr_pages = diff->nr_pages;
	}
	w.what = "write of";
	w.pagemap =
	    gm->fd < 0 ? open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC) : -1;
	pthread_mutex_init(&w.lock, NULL);
	ret = ram_run(&w);
	pthread_mutex_destroy(&w.lock);
	if (w.pagemap >= 0)
		close(w.pagemap);
	return ret;
}

int snap_ram_write(int fd, const struct guest_mem *gm, struct snap_ram_map *map,
		   struct hyve_err *err)
{
	return ram_write_common(fd, gm, map, true, NULL, err);
}

int ram_write_data(int fd, const struct guest_mem *gm, struct snap_ram_map *map,
		   struct hyve_err *err)
{
	return ram_write_common(fd, gm, map, false, NULL, err);
}

int ram_write_diff(int fd, const struct guest_mem *gm,
		   struct snap_ram_map *map, bool hash,
		   const struct snap_ram_diff *diff, struct hyve_err *err)
{
	uint64_t pages;
	int ret;

	if (!diff->base || !diff->base[0] ||
	    strlen(diff->base) >= sizeof(map->base))
		return err_set(err, EINVAL, "incremental: bad base path");
	if (gm->size / RAM_PAGE > (uint64_t)SNAP_RAM_MAX_CARRIED * 64)
		return err_set(err, E2BIG, "incremental: guest too large");
	ret = ram_write_common(fd, gm, map, hash, diff, err);
	if (ret)
		return ret;
	snprintf(map->base, sizeof(map->base), "%s", diff->base);
	map->base_id = diff->base_id;
	pages = map->file_size / RAM_PAGE;
	map->nr_carried = (uint32_t)((pages + 63) / 64);
	memset(map->carried, 0, map->nr_carried * sizeof(uint64_t));
	for (uint64_t p = 0; p < pages && p < diff->nr_pages; p++)
		if (diff->carried[p / 64] >> (p % 64) & 1)
			map->carried[p / 64] |= 1ULL << (p % 64);
	return 0;
}

int ram_write_pages(int fd, const struct guest_mem *gm,
		    struct snap_ram_map *map, const uint64_t *bits,
		    uint64_t nr_pages, struct hyve_err *err)
{
	struct snap_ram_diff d = {.carried = bits, .nr_pages = nr_pages};

	return ram_write_common(fd, gm, map, false, &d, err);
}

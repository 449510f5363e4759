/* Shared by the RAM file writer (ram_write.c) and reader (memfile.c). */
#ifndef HYVE_SNAP_RAM_INTERNAL_H
#define HYVE_SNAP_RAM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hyve/snapshot.h"

#define RAM_PAGE GUEST_PAGE_SIZE

/* Number of chunks of `chunk` bytes covering `size` bytes. */
static inline uint64_t ram_chunks(uint64_t size, uint64_t chunk)
{
	return size / chunk + (size % chunk != 0);
}

/* XXH3-64 of `len` zero bytes (len a multiple of the page size), cached:
 * a mostly empty 16 GiB guest has thousands of all-hole chunks and hashing
 * their zeroes would cost more than everything else in a save. */
uint64_t ram_zero_digest(uint64_t len);

/* True if the page at p is all zeroes (stops at the first non-zero word). */
bool ram_page_is_zero(const uint8_t *p);

/* The next data extent of fd at or after pos, clipped to end: returns
 * false when [pos, end) is all hole.  Files without SEEK_DATA (fd < 0 or
 * EINVAL) are all data. */
bool ram_next_data(int fd, uint64_t pos, uint64_t end, uint64_t *start,
		   uint64_t *stop);

/* A restored guest's RAM is the RAM file file_fd mapped privately at the
 * same offsets: snap_ram_write then asks that file (and the page tables)
 * where data is.  Takes file_fd. */
void ram_set_origin(const struct guest_mem *gm, int file_fd);

/* --- the chunk engine (ram_chunks.c) --- */
struct ram_seek;

/* One pass over a RAM map's chunks, shared by every thread of it. */
struct ram_writer {
	int fd, pagemap;
	bool hash; /* digests now, from guest memory (else ram_digest_file) */
	bool need_buf;
	bool verify;		/* compare digests instead of storing them */
	struct guest_mem *load; /* read data into this memory (verify) */
	const char *what;
	int (*fn)(struct ram_writer *w, struct ram_seek *sc, uint8_t *buf,
		  unsigned idx);
	const struct guest_mem *gm;
	const uint64_t *carried; /* incremental: pages to write, else NULL */
	uint64_t nr_pages;       /* bits in carried */
	struct snap_ram_map *map;
	unsigned first[SNAP_RAM_MAX_RANGES + 2]; /* first chunk of each range */
	atomic_uint next;
	atomic_bool failed;
	pthread_mutex_t lock;
	int ret;
	struct hyve_err *err;
};

/* What one thread learnt from SEEK_DATA/SEEK_HOLE: no data in [from,
 * data), data in [data, hole).  Each thread takes chunks in increasing
 * order, and both lseeks walk the page cache up to their answer (to the
 * end of a long data extent, or of a mostly empty memfd): asked again for
 * every chunk they would cost O(chunks * size). */
struct ram_seek {
	uint64_t from, data, hole;
};

bool ram_next_data_cached(struct ram_seek *sc, int fd, uint64_t pos,
			  uint64_t end, uint64_t *start, uint64_t *stop);
/* Zeroes w and fills its chunk index from map. */
void ram_writer_init(struct ram_writer *w, struct snap_ram_map *map,
		     struct hyve_err *err);
/* Runs w->fn over every chunk on up to HYVE_SAVE_THREADS (default: the
 * online CPUs, at most 4) threads, this one included. */
int ram_run(struct ram_writer *w);

/* snap_ram_write in two passes: the data (while the guest is stopped),
 * then the chunk digests read back from the written file fd (which must be
 * readable) while the guest runs on. */
int ram_write_data(int fd, const struct guest_mem *gm, struct snap_ram_map *map,
		   struct hyve_err *err);
/* snap_ram_write for an incremental snapshot: only diff's pages; digests
 * now if hash, else left to ram_digest_file.  Fills map's v2 fields. */
int ram_write_diff(int fd, const struct guest_mem *gm,
		   struct snap_ram_map *map, bool hash,
		   const struct snap_ram_diff *diff, struct hyve_err *err);
/* Rewrites the pages set in bits (zero pages as zeroes) of a RAM file
 * written before (live checkpoint rounds); no digests. */
int ram_write_pages(int fd, const struct guest_mem *gm,
		    struct snap_ram_map *map, const uint64_t *bits,
		    uint64_t nr_pages, struct hyve_err *err);
int ram_digest_file(int fd, struct snap_ram_map *map, struct hyve_err *err);
/* Reads the RAM file fd chunk by chunk on several threads, into gm (its
 * ranges at the map's positions; holes are left alone: gm is fresh and
 * zero) or a bounce buffer, and checks every chunk digest. */
int ram_check_file(int fd, const struct snap_ram_map *map, struct guest_mem *gm,
		   struct hyve_err *err);

#endif

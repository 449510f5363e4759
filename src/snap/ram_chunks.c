/* The chunk engine of the RAM file (docs/snapshot-format.md §5.3, §5.4):
 * runs one function over every digest chunk on several threads, and the
 * passes that read a written RAM file back: computing its digests (a
 * buffered save, after the guest runs on), and checking them while loading
 * it into guest memory or into nothing (eager restore, verify).  Holes are
 * found with SEEK_DATA/SEEK_HOLE and never read. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "snap/ram_internal.h"

#define RAM_READ_MAX	(8u << 20) /* bytes per pread */
#define RAM_THREADS_MAX 4

static const uint8_t ram_zero_page[RAM_PAGE];

bool ram_page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;

	for (unsigned i = 0; i < RAM_PAGE / 8; i += 8)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] |
		    w[i + 5] | w[i + 6] | w[i + 7])
			return false;
	return true;
}

uint64_t ram_zero_digest(uint64_t len)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static uint64_t cached_len, cached;
	uint64_t d;

	pthread_mutex_lock(&lock);
	if (cached_len != len) {
		XXH3_state_t st;

		XXH3_64bits_reset(&st);
		for (uint64_t o = 0; o < len; o += RAM_PAGE)
			XXH3_64bits_update(&st, ram_zero_page, RAM_PAGE);
		cached = XXH3_64bits_digest(&st);
		cached_len = len;
	}
	d = cached;
	pthread_mutex_unlock(&lock);
	return d;
}

bool ram_next_data(int fd, uint64_t pos, uint64_t end, uint64_t *start,
		   uint64_t *stop)
{
	off_t d, h;

	if (fd < 0)
		goto all_data;
	d = lseek(fd, (off_t)pos, SEEK_DATA);
	if (d < 0) {
		if (errno == ENXIO) /* only a hole from pos on */
			return false;
		goto all_data; /* no SEEK_DATA here: read everything */
	}
	if ((uint64_t)d >= end)
		return false;
	h = lseek(fd, d, SEEK_HOLE);
	*start = (uint64_t)d & ~(RAM_PAGE - 1);
	if (*start < pos)
		*start = pos;
	*stop = h < 0 ? end : ((uint64_t)h + RAM_PAGE - 1) & ~(RAM_PAGE - 1);
	if (*stop > end)
		*stop = end;
	return true;
all_data:
	*start = pos;
	*stop = end;
	return true;
}

bool ram_next_data_cached(struct ram_seek *sc, int fd, uint64_t pos,
			  uint64_t end, uint64_t *start, uint64_t *stop)
{
	off_t d, h;

	if (fd < 0)
		return ram_next_data(fd, pos, end, start, stop);
	if (pos < sc->from || pos >= sc->hole) {
		d = lseek(fd, (off_t)pos, SEEK_DATA);
		if (d < 0 && errno == ENXIO) {
			*sc = (struct ram_seek){pos, UINT64_MAX, UINT64_MAX};
			return false;
		}
		if (d < 0)
			return ram_next_data(-1, pos, end, start, stop);
		h = lseek(fd, d, SEEK_HOLE);
		sc->from = pos;
		sc->data = (uint64_t)d & ~(RAM_PAGE - 1);
		sc->hole = h < 0
			       ? UINT64_MAX
			       : ((uint64_t)h + RAM_PAGE - 1) & ~(RAM_PAGE - 1);
	}
	*start = pos > sc->data ? pos : sc->data;
	if (*start >= end)
		return false;
	*stop = sc->hole < end ? sc->hole : end;
	return true;
}

static int ram_digest_done(struct ram_writer *w, unsigned idx, uint64_t digest)
{
	if (!w->verify) {
		w->map->digests[idx] = digest;
		return 0;
	}
	return digest == w->map->digests[idx] ? 0 : -EBADMSG;
}

/* Chunk by chunk digests of a written RAM file (read back from the page
 * cache): lets a save hash after the guest runs on instead of while it is
 * stopped, and digests what the file really holds. */
static int ram_digest_chunk(struct ram_writer *w, struct ram_seek *sc,
			    uint8_t *buf, unsigned idx)
{
	uint64_t chunk = w->map->chunk_size, pos, end, ds, de;
	const struct snap_ram_range *r;
	XXH3_state_t st;
	unsigned i = 0;

	while (idx >= w->first[i + 1])
		i++;
	r = &w->map->ranges[i];
	pos = r->offset + (uint64_t)(idx - w->first[i]) * chunk;
	end =
	    pos + (r->offset + r->size - pos < chunk ? r->offset + r->size - pos
						     : chunk);
	if (!ram_next_data_cached(sc, w->fd, pos, end, &ds, &de))
		return ram_digest_done(w, idx, ram_zero_digest(end - pos));
	XXH3_64bits_reset(&st);
	while (pos < end) {
		if (!ram_next_data_cached(sc, w->fd, pos, end, &ds, &de))
			ds = de = end;
		for (; pos < ds; pos += RAM_PAGE)
			XXH3_64bits_update(&st, ram_zero_page, RAM_PAGE);
		for (; pos < de;) {
			uint64_t n =
			    de - pos < RAM_READ_MAX ? de - pos : RAM_READ_MAX;
			uint8_t *dst = w->load ? w->load->host +
						     w->load->ranges[i].offset +
						     (pos - r->offset)
					       : buf;

			for (uint64_t got = 0; got < n;) {
				ssize_t k = pread(w->fd, dst + got, n - got,
						  (off_t)(pos + got));

				if (k < 0 && errno == EINTR)
					continue;
				if (k <= 0)
					return k < 0 ? -errno : -EIO;
				got += (uint64_t)k;
			}
			XXH3_64bits_update(&st, dst, n);
			pos += n;
		}
	}
	return ram_digest_done(w, idx, XXH3_64bits_digest(&st));
}

static void ram_fail(struct ram_writer *w, int ret, unsigned idx)
{
	pthread_mutex_lock(&w->lock);
	if (!atomic_exchange(&w->failed, true)) {
		if (ret == -EBADMSG && w->verify) {
			unsigned i = 0;
			uint64_t c, len;

			while (idx >= w->first[i + 1])
				i++;
			c = (uint64_t)(idx - w->first[i]) * w->map->chunk_size;
			len = w->map->ranges[i].size - c < w->map->chunk_size
				  ? w->map->ranges[i].size - c
				  : w->map->chunk_size;
			w->ret = err_set(w->err, EBADMSG,
					 "RAM file: chunk %u (guest 0x%" PRIx64
					 "..0x%" PRIx64
					 ") does not match its digest",
					 idx, w->map->ranges[i].gpa + c,
					 w->map->ranges[i].gpa + c + len - 1);
		} else {
			w->ret =
			    err_set(w->err, -ret, "RAM file: %s chunk %u: %s",
				    w->what, idx, strerror(-ret));
		}
	}
	pthread_mutex_unlock(&w->lock);
}

static void *ram_thread(void *arg)
{
	struct ram_writer *w = arg;
	struct ram_seek sc = {0, 0, 0};
	uint8_t *buf = NULL;

	if (w->need_buf && !(buf = malloc(RAM_READ_MAX))) {
		ram_fail(w, -ENOMEM, 0);
		return NULL;
	}
	while (!atomic_load(&w->failed)) {
		unsigned idx = atomic_fetch_add(&w->next, 1);
		int ret;

		if (idx >= w->map->nr_digests)
			break;
		ret = w->fn(w, &sc, buf, idx);
		if (ret)
			ram_fail(w, ret, idx);
	}
	free(buf);
	return NULL;
}

static unsigned ram_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	const char *env = getenv("HYVE_SAVE_THREADS");

	if (env && atoi(env) > 0)
		n = atoi(env);
	return n < 1 ? 1 : n > RAM_THREADS_MAX ? RAM_THREADS_MAX : (unsigned)n;
}

/* Runs w->fn over every chunk on up to ram_threads() threads, this one
 * included. */
int ram_run(struct ram_writer *w)
{
	pthread_t tids[RAM_THREADS_MAX];
	unsigned nt = 0, want = ram_threads();

	atomic_store(&w->next, 0);
	atomic_store(&w->failed, false);
	w->ret = 0;
	if (want > w->map->nr_digests)
		want = w->map->nr_digests ? w->map->nr_digests : 1;
	for (; nt + 1 < want; nt++)
		if (pthread_create(&tids[nt], NULL, ram_thread, w))
			break;
	ram_thread(w);
	for (unsigned i = 0; i < nt; i++)
		pthread_join(tids[i], NULL);
	return w->ret;
}

void ram_writer_init(struct ram_writer *w, struct snap_ram_map *map,
		     struct hyve_err *err)
{
	memset(w, 0, sizeof(*w));
	w->map = map;
	w->err = err;
	w->fd = w->pagemap = -1;
	for (unsigned i = 0; i < map->nr_ranges; i++)
		w->first[i + 1] =
		    w->first[i] +
		    (unsigned)ram_chunks(map->ranges[i].size, map->chunk_size);
	w->first[map->nr_ranges + 1] =
	    ~0u; /* ranges past the last: never reached */
}

int ram_check_file(int fd, const struct snap_ram_map *map, struct guest_mem *gm,
		   struct hyve_err *err)
{
	struct ram_writer w;
	int ret;

	/* verify mode never writes to the map */
	ram_writer_init(&w, (struct snap_ram_map *)map, err);
	w.fd = fd;
	w.fn = ram_digest_chunk;
	w.need_buf = !gm;
	w.verify = true;
	w.load = gm;
	w.what = "read of";
	pthread_mutex_init(&w.lock, NULL);
	ret = ram_run(&w);
	pthread_mutex_destroy(&w.lock);
	return ret;
}

int ram_digest_file(int fd, struct snap_ram_map *map, struct hyve_err *err)
{
	struct ram_writer w;
	int ret;

	ram_writer_init(&w, map, err);
	w.fd = fd;
	w.fn = ram_digest_chunk;
	w.need_buf = true;
	w.what = "digest of";
	pthread_mutex_init(&w.lock, NULL);
	ret = ram_run(&w);
	pthread_mutex_destroy(&w.lock);
	return ret;
}

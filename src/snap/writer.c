/* Writing a snapshot to files: records are built in memory, the RAM file is
 * written as it is produced, and both land under temporary names that are
 * renamed into place only on commit (docs/snapshot-format.md §6). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hyve/snapshot.h"
#include "snap/ram_internal.h"

struct snap_writer {
	struct snap_buf buf;
	char *path, *tmp, *mem, *mem_tmp;
	int fd, mem_fd;
	bool wrote_ram, flushed;
	struct snap_ram_map *ram_map; /* written, RAMM record still to do */
	bool ram_digested;            /* ram_map's digests are known */
	bool direct;                  /* RAM file with O_DIRECT */
	bool rewrite;                 /* live: pages rewritten, buffered */
};

static char *writer_join(const char *a, const char *b)
{
	char *s;

	return asprintf(&s, "%s%s", a, b) < 0 ? NULL : s;
}

static void writer_free(struct snap_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	if (w->mem_fd >= 0)
		close(w->mem_fd);
	snap_buf_free(&w->buf);
	free(w->ram_map);
	free(w->path);
	free(w->tmp);
	free(w->mem);
	free(w->mem_tmp);
	free(w);
}

static int writer_create(const char *path, struct hyve_err *err)
{
	int fd = open(
	    path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return err_set(err, errno, "%s: %s", path, strerror(errno));
	return fd;
}

int snap_writer_open(struct snap_writer **out, const char *path,
		     struct hyve_err *err)
{
	struct snap_writer *w;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return err_set(err, ENOMEM, "out of memory");
	w->fd = w->mem_fd = -1;
	w->path = strdup(path);
	w->tmp = writer_join(path, ".tmp");
	w->mem = writer_join(path, ".mem");
	w->mem_tmp = writer_join(path, ".mem.tmp");
	if (!w->path || !w->tmp || !w->mem || !w->mem_tmp ||
	    snap_stream_begin(&w->buf)) {
		writer_free(w);
		return err_set(err, ENOMEM, "out of memory");
	}
	w->fd = writer_create(w->tmp, err);
	if (w->fd < 0) {
		int ret = w->fd;

		writer_free(w);
		return ret;
	}
	*out = w;
	return 0;
}

int snap_write_machine(struct snap_writer *w, const struct snap_machine *m,
		       struct hyve_err *err)
{
	int ret = snap_stream_section(&w->buf, SNAP_REC_MACHINE, 0,
				      &snap_machine_desc, "machine", 0, m, err);

	if (ret)
		err_prefix(err, "machine description: ");
	return ret;
}

int snap_write_section(struct snap_writer *w, const struct state_desc *desc,
		       const char *name, unsigned instance, const void *state,
		       uint32_t flags, struct hyve_err *err)
{
	return snap_stream_section(&w->buf, SNAP_REC_SECTION,
				   flags & SNAP_REC_OPTIONAL, desc, name,
				   instance, state, err);
}

int snap_write_record(struct snap_writer *w, uint32_t type, uint32_t flags,
		      const void *body, size_t len, struct hyve_err *err)
{
	return snap_stream_record(&w->buf, type, flags, body, len, err);
}

/* HYVE_SNAPSHOT_IO=buffered|direct (docs/hyve.8), else what the caller
 * chose (snap_writer_set_direct; buffered by default).  Direct writes the
 * RAM file with O_DIRECT from guest memory (no page-cache copy, durable
 * when written, digests computed on the way); buffered writes through the
 * page cache and digests the file after the guest runs on. */
static bool writer_direct(const struct snap_writer *w)
{
	const char *io = getenv("HYVE_SNAPSHOT_IO");

	if (w->rewrite)
		return false;
	if (io && strcmp(io, "direct") == 0)
		return true;
	if (io && strcmp(io, "buffered") == 0)
		return false;
	return w->direct;
}

void snap_writer_set_direct(struct snap_writer *w, bool direct)
{
	w->direct = direct;
}

/* Writes the RAM data now; the RAMM record follows in snap_writer_flush
 * (after the digests, read back from the file unless computed already). */
static int writer_ram(struct snap_writer *w, const struct guest_mem *gm,
		      const struct snap_ram_diff *diff, struct hyve_err *err)
{
	int flags = O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW;
	bool direct = writer_direct(w);
	int ret;

	if (w->wrote_ram)
		return err_set(err, EINVAL, "RAM written twice");
	w->ram_map = malloc(sizeof(*w->ram_map));
	if (!w->ram_map)
		return err_set(err, ENOMEM, "out of memory");
	w->mem_fd = open(w->mem_tmp, flags | (direct ? O_DIRECT : 0), 0600);
	if (w->mem_fd < 0 && direct && errno == EINVAL) {
		direct = false; /* a file system without O_DIRECT */
		w->mem_fd = open(w->mem_tmp, flags, 0600);
	}
	if (w->mem_fd < 0)
		return err_set(err, errno, "%s: %s", w->mem_tmp,
			       strerror(errno));
	w->wrote_ram = true;
	if (direct) {
		ret = diff ? ram_write_diff(w->mem_fd, gm, w->ram_map, true,
					    diff, err)
			   : snap_ram_write(w->mem_fd, gm, w->ram_map, err);
		if (ret == -EINVAL) {
			/* O_DIRECT refused at write time (alignment rules
			 * of this file system): start over, buffered. */
			fcntl(w->mem_fd, F_SETFL,
			      fcntl(w->mem_fd, F_GETFL) & ~O_DIRECT);
			ret = diff ? ram_write_diff(w->mem_fd, gm, w->ram_map,
						    true, diff, err)
				   : snap_ram_write(w->mem_fd, gm, w->ram_map,
						    err);
		}
		w->ram_digested = !ret;
		return ret;
	}
	if (diff)
		return ram_write_diff(w->mem_fd, gm, w->ram_map, false, diff,
				      err);
	return ram_write_data(w->mem_fd, gm, w->ram_map, err);
}

int snap_write_ram(struct snap_writer *w, const struct guest_mem *gm,
		   struct hyve_err *err)
{
	return writer_ram(w, gm, NULL, err);
}

int snap_write_ram_live(struct snap_writer *w, const struct guest_mem *gm,
			struct hyve_err *err)
{
	/* Pages are rewritten in later rounds and the digests read back
	 * from the final file: through the page cache, whatever
	 * HYVE_SNAPSHOT_IO says. */
	w->rewrite = true;
	return writer_ram(w, gm, NULL, err);
}

int snap_write_ram_pages(struct snap_writer *w, const struct guest_mem *gm,
			 const uint64_t *bits, uint64_t nr_pages,
			 struct hyve_err *err)
{
	if (!w->wrote_ram || w->ram_digested)
		return err_set(err, EINVAL, "RAM pages rewritten without a "
					    "buffered RAM file");
	return ram_write_pages(w->mem_fd, gm, w->ram_map, bits, nr_pages,
			       err);
}

int snap_write_ram_diff(struct snap_writer *w, const struct guest_mem *gm,
			const struct snap_ram_diff *diff, struct hyve_err *err)
{
	return writer_ram(w, gm, diff, err);
}

static int writer_ram_map(struct snap_writer *w, struct hyve_err *err)
{
	int ret;

	if (!w->ram_map)
		return 0;
	ret = w->ram_digested ? 0 : ram_digest_file(w->mem_fd, w->ram_map, err);
	if (!ret)
		ret = snap_stream_section(&w->buf, SNAP_REC_RAM_MAP, 0,
					  w->ram_map->base[0]
					      ? &snap_ram_map_desc
					      : &snap_ram_map_v1_desc,
					  "ram-map", 0, w->ram_map, err);
	free(w->ram_map);
	w->ram_map = NULL;
	return ret;
}

static int writer_fsync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, ret = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return ret;
}

int snap_writer_flush(struct snap_writer *w, struct hyve_err *err)
{
	size_t done = 0;
	int ret;

	if (w->flushed)
		return 0;
	ret = writer_ram_map(w, err);
	if (!ret)
		ret = snap_stream_end(&w->buf, err);
	if (ret)
		goto out_abort;
	while (done < w->buf.len) {
		ssize_t n = write(w->fd, w->buf.data + done, w->buf.len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = err_set(err, n < 0 ? errno : EIO, "%s: write: %s",
				      w->tmp, strerror(n < 0 ? errno : EIO));
			goto out_abort;
		}
		done += (size_t)n;
	}
	w->flushed = true;
	return 0;
out_abort:
	snap_writer_abort(w);
	return ret;
}

int snap_writer_commit(struct snap_writer *w, struct hyve_err *err)
{
	int ret;

	ret = snap_writer_flush(w, err);
	if (ret)
		return ret; /* w is gone */
	/* Data first, names second: after a crash either name holds a
	 * complete file. */
	if (fsync(w->fd) || (w->mem_fd >= 0 && fsync(w->mem_fd))) {
		ret = err_set(err, errno, "fsync: %s", strerror(errno));
		goto out_abort;
	}
	if (w->wrote_ram && rename(w->mem_tmp, w->mem)) {
		ret = err_set(err, errno, "rename %s: %s", w->mem_tmp,
			      strerror(errno));
		goto out_abort;
	}
	if (rename(w->tmp, w->path)) {
		ret = err_set(err, errno, "rename %s: %s", w->tmp,
			      strerror(errno));
		goto out_abort;
	}
	ret = writer_fsync_dir(w->path);
	if (ret)
		err_set(err, ret, "fsync of the directory of %s: %s", w->path,
			strerror(-ret));
	writer_free(w);
	return ret;
out_abort:
	snap_writer_abort(w);
	return ret;
}

void snap_writer_abort(struct snap_writer *w)
{
	if (!w)
		return;
	unlink(w->tmp);
	if (w->wrote_ram)
		unlink(w->mem_tmp);
	writer_free(w);
}

/* Reading a state file: read it whole (bounded), check the header, every
 * record's checksum before its body, the record order and every envelope,
 * and index the sections.  Nothing from the file is used before it is
 * checked against the bytes that hold it and the caps of §7. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "snap/cbor.h"
#include "snap/reader.h"
#include "snap/wire.h"

/* The fuzzer cannot forge checksums; a fuzz build still computes them but
 * goes on, so that it reaches the decoders behind them. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define READER_CHECKSUM_ENFORCED 0
#else
#define READER_CHECKSUM_ENFORCED 1
#endif

static int reader_grow(void **arr, unsigned *cap, unsigned nr, size_t elem)
{
	unsigned ncap;
	void *p;

	if (nr < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	p = realloc(*arr, (size_t)ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int reader_header(const uint8_t *d, size_t len, struct hyve_err *err)
{
	uint32_t ver, bom;

	if (len < SNAP_HEADER_SIZE || memcmp(d, SNAP_MAGIC, 8) != 0)
		return err_set(err, EBADMSG, "not a hyve snapshot (bad magic)");
	ver = snap_get_le32(d + 8);
	bom = snap_get_le32(d + 12);
	if (READER_CHECKSUM_ENFORCED &&
	    snap_get_le64(d + 24) != XXH3_64bits(d, 24))
		return err_set(err, EBADMSG, "header checksum mismatch");
	if (bom != SNAP_BYTE_ORDER_MARK)
		return err_set(err, EBADMSG,
			       "byte-order mark 0x%08x: only little-endian "
			       "snapshots exist",
			       bom);
	if (ver == 0 || ver > SNAP_FORMAT_VERSION)
		return err_set(
		    err, EPROTONOSUPPORT,
		    "format version %u is newer than this hyve reads (%u)", ver,
		    SNAP_FORMAT_VERSION);
	if (snap_get_le32(d + 16) != 0)
		return err_set(err, EBADMSG,
			       "header has reserved flags 0x%x set",
			       snap_get_le32(d + 16));
	if (snap_get_le32(d + 20) != SNAP_HEADER_SIZE)
		return err_set(err, EBADMSG, "header size %u, expected %u",
			       snap_get_le32(d + 20), SNAP_HEADER_SIZE);
	return 0;
}

static int reader_sort_cmp(const void *a, const void *b, void *ctx)
{
	const struct snap_reader *r = ctx;

	return reader_section_cmp(&r->secs[*(const unsigned *)a],
				  &r->secs[*(const unsigned *)b]);
}

/* A body with an envelope.  Only the envelope is parsed here: the field
 * map is checked in full by whoever reads it (snap_decode_section, or the
 * generic walk of inspect/verify), which keeps open + decode one pass. */
static int reader_envelope(struct snap_reader *r, const struct snap_record *rec,
			   const char *expect, struct snap_envelope *env,
			   struct hyve_err *err)
{
	const uint8_t *body = r->data + rec->body;
	int ret;

	ret = snap_envelope_parse(body, rec->length, env, err);
	if (!ret && expect &&
	    (env->name_len != strlen(expect) ||
	     memcmp(env->name, expect, env->name_len)))
		ret =
		    err_set(err, EBADMSG, "body is named '%.*s', expected '%s'",
			    (int)env->name_len, env->name, expect);
	return ret;
}

static int reader_add_section(struct snap_reader *r,
			      const struct snap_record *rec,
			      struct hyve_err *err)
{
	struct snap_envelope env;
	struct snap_section *s;
	int ret;

	ret = reader_envelope(r, rec, NULL, &env, err);
	if (ret)
		return ret;
	if (reader_grow((void **)&r->secs, &r->cap_secs, r->nr_secs,
			sizeof(*s)))
		return err_set(err, ENOMEM, "out of memory");
	s = &r->secs[r->nr_secs];
	memcpy(s->name, env.name, env.name_len);
	s->name[env.name_len] = '\0';
	s->instance = env.instance;
	s->version = env.version;
	s->flags = rec->flags;
	s->record = r->nr_recs - 1;
	s->fields = rec->body + env.fields;
	s->fields_len = env.fields_len;
	r->nr_secs++;
	return 0;
}

static int reader_records(struct snap_reader *r, struct hyve_err *err)
{
	size_t off = SNAP_HEADER_SIZE;
	struct snap_envelope env;
	char tn[5];
	int ret;

	for (unsigned i = 0;; i++) {
		const uint8_t *h = r->data + off;
		struct snap_record *rec;
		uint64_t length, padded;

		if (r->len - off < SNAP_RECORD_HEADER_SIZE)
			return err_set(err, EBADMSG,
				       "truncated: record %u header at offset "
				       "%zu is cut off (no END record)",
				       i, off);
		if (i >= SNAP_RECORDS_MAX)
			return err_set(err, E2BIG, "more than %u records",
				       SNAP_RECORDS_MAX);
		snap_type_name(snap_get_le32(h), tn);
		length = snap_get_le64(h + 8);
		if (length > SNAP_RECORD_MAX)
			return err_set(
			    err, EFBIG,
			    "record %u '%s' at offset %zu: length %" PRIu64
			    " exceeds the cap of %u bytes",
			    i, tn, off, length, SNAP_RECORD_MAX);
		padded = (length + 7) & ~7ULL;
		if (padded > r->len - off - SNAP_RECORD_HEADER_SIZE)
			return err_set(err, EBADMSG,
				       "truncated: record %u '%s' at offset "
				       "%zu has length %" PRIu64
				       " but only %zu bytes follow",
				       i, tn, off, length,
				       r->len - off - SNAP_RECORD_HEADER_SIZE);
		if (reader_grow((void **)&r->recs, &r->cap_recs, r->nr_recs,
				sizeof(*rec)))
			return err_set(err, ENOMEM, "out of memory");
		rec = &r->recs[r->nr_recs++];
		rec->type = snap_get_le32(h);
		rec->flags = snap_get_le32(h + 4);
		rec->offset = off;
		rec->body = off + SNAP_RECORD_HEADER_SIZE;
		rec->length = (size_t)length;
		rec->checksum = snap_get_le64(h + 16);
		if (READER_CHECKSUM_ENFORCED &&
		    rec->checksum != snap_record_checksum(
					 h, r->data + rec->body, rec->length))
			return err_set(
			    err, EBADMSG,
			    "record %u '%s' at offset %zu: checksum mismatch",
			    i, tn, off);
		if (rec->flags & ~SNAP_REC_OPTIONAL)
			return err_set(
			    err, EBADMSG,
			    "record %u '%s': reserved flags 0x%x set", i, tn,
			    rec->flags & ~SNAP_REC_OPTIONAL);
		for (size_t p = rec->body + rec->length; p < rec->body + padded;
		     p++)
			if (r->data[p])
				return err_set(
				    err, EBADMSG,
				    "record %u '%s': non-zero padding", i, tn);
		off = rec->body + padded;
		if ((i == 0) != (rec->type == SNAP_REC_MACHINE))
			return err_set(err, EBADMSG,
				       "record %u is '%s': the first record, "
				       "and only it, must be MACH",
				       i, tn);
		ret = 0;
		switch (rec->type) {
		case SNAP_REC_MACHINE:
			ret = reader_envelope(r, rec, "machine", &env, err);
			break;
		case SNAP_REC_SECTION:
			ret = reader_add_section(r, rec, err);
			break;
		case SNAP_REC_RAM_MAP:
			if (r->ram_map >= 0)
				return err_set(
				    err, EBADMSG,
				    "record %u: a second RAMM record", i);
			r->ram_map = (int)i;
			ret = reader_envelope(r, rec, "ram-map", &env, err);
			break;
		case SNAP_REC_END:
			if (rec->length)
				return err_set(err, EBADMSG,
					       "record %u 'END ': has a body",
					       i);
			if (off != r->len)
				return err_set(
				    err, EBADMSG,
				    "%zu bytes of trailing data after END",
				    r->len - off);
			return 0;
		default:
			if (!(rec->flags & SNAP_REC_OPTIONAL))
				return err_set(
				    err, EPROTONOSUPPORT,
				    "record %u '%s' is mandatory but unknown "
				    "to this hyve (written by a newer hyve?)",
				    i, tn);
			break;
		}
		if (ret) {
			err_prefix(err, "record %u '%s': ", i, tn);
			return ret;
		}
	}
}

static int reader_index(struct snap_reader *r, struct hyve_err *err)
{
	int ret;

	r->ram_map = -1;
	ret = reader_header(r->data, r->len, err);
	if (!ret)
		ret = reader_records(r, err);
	if (ret)
		return ret;
	r->sorted = malloc(sizeof(unsigned) * (r->nr_secs ? r->nr_secs : 1));
	if (!r->sorted)
		return err_set(err, ENOMEM, "out of memory");
	for (unsigned i = 0; i < r->nr_secs; i++)
		r->sorted[i] = i;
	qsort_r(r->sorted, r->nr_secs, sizeof(unsigned), reader_sort_cmp, r);
	for (unsigned i = 1; i < r->nr_secs; i++) {
		const struct snap_section *s = &r->secs[r->sorted[i]];

		if (!reader_section_cmp(s, &r->secs[r->sorted[i - 1]]))
			return err_set(
			    err, EBADMSG,
			    "record %u: section '%s'.%u appears twice",
			    s->record, s->name, s->instance);
	}
	return 0;
}

static int reader_finish(struct snap_reader *r, struct snap_reader **out,
			 struct hyve_err *err)
{
	int ret = reader_index(r, err);

	if (ret) {
		snap_reader_close(r);
		return ret;
	}
	*out = r;
	return 0;
}

int snap_reader_open_mem(struct snap_reader **out, const void *data, size_t len,
			 struct hyve_err *err)
{
	struct snap_reader *r;

	*out = NULL;
	if (len > SNAP_STATE_MAX)
		return err_set(err, EFBIG,
			       "state of %zu bytes exceeds the cap of %u", len,
			       SNAP_STATE_MAX);
	r = calloc(1, sizeof(*r));
	if (!r || !(r->data = malloc(len ? len : 1)) ||
	    !(r->path = strdup(""))) {
		snap_reader_close(r);
		return err_set(err, ENOMEM, "out of memory");
	}
	if (len)
		memcpy(r->data, data, len);
	r->len = len;
	return reader_finish(r, out, err);
}

int snap_reader_open(struct snap_reader **out, const char *path,
		     struct hyve_err *err)
{
	struct snap_reader *r = NULL;
	struct stat st;
	size_t done = 0;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		ret = err_set(err, EINVAL, "%s: not a regular file", path);
		goto out_close;
	}
	if ((uint64_t)st.st_size > SNAP_STATE_MAX) {
		ret = err_set(err, EFBIG,
			      "%s: %lld bytes exceeds the state file cap of %u",
			      path, (long long)st.st_size, SNAP_STATE_MAX);
		goto out_close;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->data = malloc(st.st_size ? (size_t)st.st_size : 1)) ||
	    !(r->path = strdup(path))) {
		ret = err_set(err, ENOMEM, "out of memory");
		goto out_free;
	}
	r->len = (size_t)st.st_size;
	while (done < r->len) {
		ssize_t n =
		    pread(fd, r->data + done, r->len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = err_set(err, EIO, "%s: read failed at offset %zu",
				      path, done);
			goto out_free;
		}
		done += (size_t)n;
	}
	close(fd);
	ret = reader_finish(r, out, err);
	if (ret)
		err_prefix(err, "%s: ", path);
	return ret;
out_free:
	snap_reader_close(r);
out_close:
	close(fd);
	return ret;
}

void snap_reader_close(struct snap_reader *r)
{
	if (!r)
		return;
	free(r->data);
	free(r->path);
	free(r->recs);
	free(r->secs);
	free(r->sorted);
	free(r);
}

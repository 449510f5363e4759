/* The record stream: file header and {type, flags, length, checksum, body}
 * records padded to 8 bytes (docs/snapshot-format.md §2, §3), built in a
 * memory buffer so that the same bytes can go to a file or a socket. */
#include <errno.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "snap/cbor.h"
#include "snap/wire.h"

void snap_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void snap_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t snap_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint64_t snap_get_le64(const uint8_t *p)
{
	return (uint64_t)snap_get_le32(p) | (uint64_t)snap_get_le32(p + 4)
						<< 32;
}

uint64_t snap_record_checksum(const uint8_t *hdr, const uint8_t *body,
			      size_t len)
{
	XXH3_state_t st;

	/* The checksum covers type, flags and length too: a flipped optional
	 * bit or length must not go unnoticed. */
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, hdr, 16);
	XXH3_64bits_update(&st, body, len);
	return XXH3_64bits_digest(&st);
}

const char *snap_type_name(uint32_t type, char buf[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)(type >> (8 * i));

		buf[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	buf[4] = '\0';
	return buf;
}

int snap_stream_begin(struct snap_buf *b)
{
	uint8_t *h;

	if (snap_buf_reserve(b, SNAP_HEADER_SIZE))
		return -ENOMEM;
	h = b->data + b->len;
	memcpy(h, SNAP_MAGIC, 8);
	snap_put_le32(h + 8, SNAP_FORMAT_VERSION);
	snap_put_le32(h + 12, SNAP_BYTE_ORDER_MARK);
	snap_put_le32(h + 16, 0);
	snap_put_le32(h + 20, SNAP_HEADER_SIZE);
	snap_put_le64(h + 24, XXH3_64bits(h, 24));
	b->len += SNAP_HEADER_SIZE;
	return 0;
}

size_t snap_record_begin(struct snap_buf *b)
{
	size_t start = b->len;

	if (snap_buf_reserve(b, SNAP_RECORD_HEADER_SIZE) == 0)
		b->len += SNAP_RECORD_HEADER_SIZE;
	return start;
}

int snap_record_finish(struct snap_buf *b, size_t start, uint32_t type,
		       uint32_t flags, struct hyve_err *err)
{
	char name[5];
	size_t len, pad;
	uint8_t *h;

	if (b->failed)
		return err_set(err, ENOMEM,
			       "out of memory writing a '%s' record",
			       snap_type_name(type, name));
	len = b->len - start - SNAP_RECORD_HEADER_SIZE;
	if (len > SNAP_RECORD_MAX)
		return err_set(err, EFBIG,
			       "'%s' record of %zu bytes exceeds the cap of %u",
			       snap_type_name(type, name), len,
			       SNAP_RECORD_MAX);
	pad = (8 - len % 8) % 8;
	if (snap_buf_reserve(b, pad))
		return err_set(err, ENOMEM, "out of memory");
	memset(b->data + b->len, 0, pad);
	b->len += pad;
	h = b->data + start;
	snap_put_le32(h, type);
	snap_put_le32(h + 4, flags);
	snap_put_le64(h + 8, len);
	snap_put_le64(
	    h + 16, snap_record_checksum(h, h + SNAP_RECORD_HEADER_SIZE, len));
	return 0;
}

int snap_stream_record(struct snap_buf *b, uint32_t type, uint32_t flags,
		       const void *body, size_t len, struct hyve_err *err)
{
	size_t start = snap_record_begin(b);

	if (snap_buf_reserve(b, len) == 0) {
		if (len)
			memcpy(b->data + b->len, body, len);
		b->len += len;
	}
	return snap_record_finish(b, start, type, flags, err);
}

int snap_stream_section(struct snap_buf *b, uint32_t type, uint32_t flags,
			const struct state_desc *desc, const char *name,
			unsigned instance, const void *state,
			struct hyve_err *err)
{
	size_t start = snap_record_begin(b);
	int ret;

	if (!snap_name_valid(name, strlen(name), true))
		return err_set(err, EINVAL, "invalid section name '%s'", name);
	cb_put_array(b, 4);
	cb_put_text(b, name, strlen(name));
	cb_put_uint(b, instance);
	cb_put_uint(b, desc->version);
	ret = snap_fields_encode(b, desc, state, err);
	if (ret) {
		err_prefix(err, "section '%s'.%u: ", name, instance);
		b->len = start;
		return ret;
	}
	return snap_record_finish(b, start, type, flags, err);
}

int snap_stream_end(struct snap_buf *b, struct hyve_err *err)
{
	return snap_stream_record(b, SNAP_REC_END, 0, NULL, 0, err);
}

bool snap_name_valid(const char *s, size_t len, bool section)
{
	if (len == 0 || len > SNAP_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' ||
		      (section && (c == '-' || c == '.'))))
			return false;
	}
	return true;
}

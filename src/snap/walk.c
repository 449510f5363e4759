/* The generic walk: validates a record body against the CBOR profile and
 * the envelope/field rules of docs/snapshot-format.md §4 without any device
 * code, and optionally prints it as text or as the JSON of §9.1.  The
 * reader runs it in CHECK mode over every body at open, so later decoding
 * only meets well-formed bodies. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "snap/cbor.h"
#include "snap/wire.h"

struct walk {
	FILE *out; /* NULL in CHECK mode */
	bool json;
	struct cb_in in;
	struct hyve_err *err;
	char path[512]; /* "regs.segs[2].base": names the field in errors */
	size_t plen;
};

/* Appends ".name" or "[i]" to the path; returns the length to restore. */
static size_t walk_push(struct walk *w, const char *name, size_t len)
{
	size_t old = w->plen, room = sizeof(w->path) - 1 - w->plen;

	if (old && room) {
		w->path[w->plen++] = '.';
		room--;
	}
	if (len > room)
		len = room;
	memcpy(w->path + w->plen, name, len);
	w->plen += len;
	w->path[w->plen] = '\0';
	return old;
}

static void walk_pop(struct walk *w, size_t old)
{
	w->plen = old;
	w->path[old] = '\0';
}

static int walk_fail(struct walk *w, const char *what)
{
	if (!w->plen)
		return err_set(w->err, EBADMSG, "fields: %s", what);
	return err_set(w->err, EBADMSG, "field '%s': %s", w->path, what);
}

static void walk_printf(struct walk *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void walk_printf(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	if (!w->out)
		return;
	va_start(ap, fmt);
	vfprintf(w->out, fmt, ap);
	va_end(ap);
}

static void walk_indent(struct walk *w, unsigned n)
{
	if (w->out && !w->json)
		fprintf(w->out, "\n%*s", (int)n, "");
}

static void walk_hex(struct walk *w, const uint8_t *p, size_t len, size_t max)
{
	static const char digits[] = "0123456789abcdef";

	if (!w->out)
		return;
	for (size_t i = 0; i < len && i < max; i++) {
		putc(digits[p[i] >> 4], w->out);
		putc(digits[p[i] & 15], w->out);
	}
	if (len > max)
		fprintf(w->out, "... (%zu bytes)", len);
}

/* As Python's json.dumps(ensure_ascii=True): the text was checked to be
 * valid UTF-8 before it gets here. */
static void walk_string(struct walk *w, const uint8_t *p, size_t len)
{
	FILE *f = w->out;

	if (!f)
		return;
	putc('"', f);
	for (size_t i = 0; i < len;) {
		uint32_t cp = p[i];
		unsigned n = cp < 0x80 ? 0 : cp < 0xe0 ? 1 : cp < 0xf0 ? 2 : 3;

		if (n)
			cp &= 0x3f >> n;
		for (unsigned k = 1; k <= n; k++)
			cp = cp << 6 | (p[i + k] & 0x3f);
		i += n + 1;
		if (cp == '"' || cp == '\\')
			fprintf(f, "\\%c", (char)cp);
		else if (cp == '\n')
			fputs("\\n", f);
		else if (cp == '\r')
			fputs("\\r", f);
		else if (cp == '\t')
			fputs("\\t", f);
		else if (cp == '\b')
			fputs("\\b", f);
		else if (cp == '\f')
			fputs("\\f", f);
		else if (cp >= 0x20 && cp < 0x7f)
			putc((int)cp, f);
		else if (cp < 0x10000)
			fprintf(f, "\\u%04x", cp);
		else
			fprintf(f, "\\u%04x\\u%04x",
				0xd800 + ((cp - 0x10000) >> 10),
				0xdc00 + ((cp - 0x10000) & 0x3ff));
	}
	putc('"', f);
}

static int walk_map(struct walk *w, unsigned depth, unsigned indent);

static int walk_elem(struct walk *w, unsigned type, unsigned depth,
		     unsigned indent)
{
	static const uint64_t umax[] = {
	    [FT_U8] = 0xff,	   [FT_U16] = 0xffff,	 [FT_U32] = 0xffffffff,
	    [FT_U64] = UINT64_MAX, [FT_I8] = 0x7f,	 [FT_I16] = 0x7fff,
	    [FT_I32] = 0x7fffffff, [FT_I64] = INT64_MAX,
	};
	struct cb_item it;

	if (type == FT_STRUCT)
		return walk_map(w, depth, indent);
	if (cb_next(&w->in, &it))
		return walk_fail(w, "malformed value");
	switch (type) {
	case FT_BOOL:
		if (it.kind != CB_BOOL)
			return walk_fail(w, "value is not a bool");
		walk_printf(w, "%s", it.b ? "true" : "false");
		return 0;
	case FT_BYTES:
		if (it.kind != CB_BYTES)
			return walk_fail(w, "value is not a byte string");
		if (w->json)
			walk_printf(w, "\"");
		walk_hex(w, it.p, it.len, w->json ? SIZE_MAX : 32);
		if (w->json)
			walk_printf(w, "\"");
		return 0;
	case FT_STRING:
		if (it.kind != CB_TEXT || memchr(it.p, 0, it.len) ||
		    !cb_utf8_valid(it.p, it.len))
			return walk_fail(
			    w, "value is not a text string without NUL");
		walk_string(w, it.p, it.len);
		return 0;
	default:
		if (it.kind == CB_UINT && it.u <= umax[type]) {
			walk_printf(w, "%" PRIu64, it.u);
			return 0;
		}
		if (it.kind == CB_NEGINT && type >= FT_I8 &&
		    it.u <= umax[type]) {
			walk_printf(w, "-%" PRIu64, it.u + 1);
			return 0;
		}
		return walk_fail(w,
				 "value is not an integer that fits the type");
	}
}

static int walk_field(struct walk *w, const struct cb_item *key, unsigned depth,
		      unsigned indent)
{
	struct cb_item val, tc, arr, ver = {.kind = CB_BAD};
	unsigned type;
	char tname[32];
	int ret;

	(void)key;
	if (cb_next(&w->in, &val) || val.kind != CB_ARRAY || val.u < 2 ||
	    val.u > 3 || cb_next(&w->in, &tc) || tc.kind != CB_UINT ||
	    tc.u > 0x7f)
		return walk_fail(w, "malformed [type, value] pair");
	type = tc.u & SNAP_TC_TYPE_MASK;
	if (type < FT_U8 || type > FT_STRUCT ||
	    val.u != (type == FT_STRUCT ? 3u : 2u))
		return walk_fail(w, "unknown type code");
	if (type == FT_STRUCT &&
	    (cb_next(&w->in, &ver) || ver.kind != CB_UINT || ver.u == 0 ||
	     ver.u > UINT16_MAX))
		return walk_fail(w, "malformed struct version");
	if (w->out)
		snap_tc_describe(tname, sizeof(tname), (unsigned)tc.u, 0);
	if (!w->out) {
		/* CHECK mode: nothing to print. */
	} else if (w->json) {
		walk_printf(w, "\"%.*s\":{\"type\":\"%s\"", (int)key->len,
			    key->p, tname);
		if (tc.u & SNAP_TC_OPTIONAL)
			walk_printf(w, ",\"optional\":true");
		if (type == FT_STRUCT)
			walk_printf(w, ",\"version\":%" PRIu64, ver.u);
		walk_printf(w, ",\"value\":");
	} else {
		walk_indent(w, indent);
		walk_printf(w, "%.*s: %s", (int)key->len, key->p, tname);
		if (type == FT_STRUCT)
			walk_printf(w, " v%" PRIu64, ver.u);
		walk_printf(
		    w, "%s = ", (tc.u & SNAP_TC_OPTIONAL) ? " (optional)" : "");
	}
	if (!(tc.u & SNAP_TC_ARRAY)) {
		ret = walk_elem(w, type, depth + 1, indent);
	} else {
		if (depth + 1 > SNAP_DEPTH_MAX || cb_next(&w->in, &arr) ||
		    arr.kind != CB_ARRAY)
			return walk_fail(w, "malformed array");
		walk_printf(w, "[");
		ret = 0;
		for (uint64_t i = 0; i < arr.u && !ret; i++) {
			if (i && w->out)
				walk_printf(w, w->json		   ? ","
					       : type == FT_STRUCT ? ""
								   : ", ");
			if (type == FT_STRUCT)
				walk_indent(w, indent + 2);
			ret = walk_elem(w, type, depth + 2, indent + 2);
			if (ret && type == FT_STRUCT)
				err_prefix(w->err, "element %" PRIu64 ": ", i);
		}
		if (type == FT_STRUCT && arr.u)
			walk_indent(w, indent);
		walk_printf(w, "]");
	}
	if (w->json)
		walk_printf(w, "}");
	return ret;
}

static int walk_map(struct walk *w, unsigned depth, unsigned indent)
{
	struct {
		const uint8_t *p;
		size_t len;
	} keys[SNAP_FIELDS_MAX];
	struct cb_item it, key;
	int ret;

	if (depth > SNAP_DEPTH_MAX)
		return walk_fail(w, "nested too deeply");
	if (cb_next(&w->in, &it) || it.kind != CB_MAP)
		return walk_fail(w, "malformed field map");
	if (it.u > SNAP_FIELDS_MAX)
		return walk_fail(w, "field map has more entries than the cap");
	walk_printf(w, "{");
	for (unsigned i = 0; i < it.u; i++) {
		size_t old;

		if (cb_next(&w->in, &key) || key.kind != CB_TEXT ||
		    !snap_name_valid((const char *)key.p, key.len, false))
			return walk_fail(w, "malformed field name in this map");
		for (unsigned k = 0; k < i; k++)
			if (keys[k].len == key.len &&
			    !memcmp(keys[k].p, key.p, key.len))
				return err_set(w->err, EBADMSG,
					       "field '%s%s%.*s' appears twice",
					       w->path, w->plen ? "." : "",
					       (int)key.len, key.p);
		keys[i].p = key.p;
		keys[i].len = key.len;
		if (i && w->json)
			walk_printf(w, ",");
		old = walk_push(w, (const char *)key.p, key.len);
		ret = walk_field(w, &key, depth + 1, indent + 2);
		walk_pop(w, old);
		if (ret)
			return ret;
	}
	if (!w->json && it.u)
		walk_indent(w, indent);
	walk_printf(w, "}");
	return 0;
}

int snap_envelope_parse(const uint8_t *body, size_t len,
			struct snap_envelope *env, struct hyve_err *err)
{
	struct cb_in in = {body, body + len};
	struct cb_item it;

	if (cb_next(&in, &it) || it.kind != CB_ARRAY || it.u != 4)
		return err_set(
		    err, EBADMSG,
		    "body is not a [name, instance, version, fields] array");
	if (cb_next(&in, &it) || it.kind != CB_TEXT ||
	    !snap_name_valid((const char *)it.p, it.len, true))
		return err_set(err, EBADMSG, "malformed section name");
	env->name = (const char *)it.p;
	env->name_len = it.len;
	if (cb_next(&in, &it) || it.kind != CB_UINT || it.u > UINT32_MAX)
		return err_set(err, EBADMSG,
			       "section '%.*s': malformed instance",
			       (int)env->name_len, env->name);
	env->instance = (uint32_t)it.u;
	if (cb_next(&in, &it) || it.kind != CB_UINT || it.u == 0 ||
	    it.u > UINT16_MAX)
		return err_set(err, EBADMSG,
			       "section '%.*s'.%u: malformed version",
			       (int)env->name_len, env->name, env->instance);
	env->version = (uint32_t)it.u;
	env->fields = (size_t)(in.p - body);
	env->fields_len = len - env->fields;
	return 0;
}

int snap_walk_body(const uint8_t *data, size_t len, enum snap_walk_mode mode,
		   FILE *out, unsigned indent, struct hyve_err *err)
{
	struct walk w = {.out = mode == SNAP_WALK_CHECK ? NULL : out,
			 .json = mode == SNAP_WALK_JSON,
			 .err = err};
	struct snap_envelope env;
	int ret;

	ret = snap_envelope_parse(data, len, &env, err);
	if (ret)
		return ret;
	if (w.json)
		walk_printf(&w,
			    "{\"name\":\"%.*s\",\"instance\":%u,\"version\":%u,"
			    "\"fields\":",
			    (int)env.name_len, env.name, env.instance,
			    env.version);
	else
		walk_printf(&w, "%.*s.%u v%u ", (int)env.name_len, env.name,
			    env.instance, env.version);
	w.in.p = data + env.fields;
	w.in.end = data + len;
	ret = walk_map(&w, 2, indent);
	if (ret) {
		err_prefix(err, "section '%.*s'.%u v%u: ", (int)env.name_len,
			   env.name, env.instance, env.version);
		return ret;
	}
	if (w.in.p != w.in.end)
		return err_set(
		    err, EBADMSG,
		    "section '%.*s'.%u: trailing bytes after the fields",
		    (int)env.name_len, env.name, env.instance);
	if (w.json)
		walk_printf(&w, "}");
	return 0;
}

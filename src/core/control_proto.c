/* The control protocol's request side: line framing and the parser that
 * turns one untrusted JSON line into a validated struct control_request.
 * Every rejection names the field and what was expected (docs/control.md). */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hyve/control.h"

/* json-c nests arrays and objects this deep at most; a request is flat. */
#define CONTROL_JSON_DEPTH 8

static const char *const control_cmd_names[] = {
	[CONTROL_CMD_STATUS] = "status",
	[CONTROL_CMD_PAUSE] = "pause",
	[CONTROL_CMD_RESUME] = "resume",
	[CONTROL_CMD_CHECKPOINT] = "checkpoint",
	[CONTROL_CMD_SUSPEND] = "suspend",
	[CONTROL_CMD_QUIT] = "quit",
	[CONTROL_CMD_WAKE] = "wake",
	[CONTROL_CMD_POWERDOWN] = "powerdown",
};

#define CONTROL_NR_CMDS (sizeof(control_cmd_names) / sizeof(control_cmd_names[0]))

const char *control_cmd_name(enum control_cmd cmd)
{
	return (unsigned)cmd < CONTROL_NR_CMDS ? control_cmd_names[cmd] : "?";
}

int control_linebuf_next(struct control_linebuf *lb, char *out, size_t *out_len)
{
	char *nl = memchr(lb->buf, '\n', lb->len);
	size_t n, used;

	if (!nl)
		return lb->len > CONTROL_LINE_MAX ? -EMSGSIZE : 0;
	n = (size_t)(nl - lb->buf);
	used = n + 1;
	if (n > CONTROL_LINE_MAX)
		return -EMSGSIZE;
	if (n > 0 && lb->buf[n - 1] == '\r') /* socat's crnl, telnet habits */
		n--;
	memcpy(out, lb->buf, n);
	out[n] = '\0';
	*out_len = n;
	memmove(lb->buf, lb->buf + used, lb->len - used);
	lb->len -= used;
	return 1;
}

static const char *control_json_type(const struct json_object *v)
{
	return v ? json_type_to_name(json_object_get_type(v)) : "null";
}

/* A string member: present, a string, within `max` bytes, without NUL. */
static int control_get_string(struct json_object *obj, const char *key, const char *cmd, char *out,
			      size_t max, bool *present, struct hyve_err *err)
{
	struct json_object *v;
	int len;

	*present = json_object_object_get_ex(obj, key, &v);
	if (!*present)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return err_set(err, EINVAL, "%s: \"%s\" must be a string, not %s", cmd, key, control_json_type(v));
	len = json_object_get_string_len(v);
	if ((size_t)len >= max)
		return err_set(err, ENAMETOOLONG, "%s: \"%s\" is %d bytes long; at most %zu are allowed", cmd, key,
			       len, max - 1);
	if (memchr(json_object_get_string(v), '\0', (size_t)len))
		return err_set(err, EINVAL, "%s: \"%s\" contains a NUL character", cmd, key);
	memcpy(out, json_object_get_string(v), (size_t)len);
	out[len] = '\0';
	return 0;
}

static int control_parse_path(struct json_object *obj, struct control_request *req, struct hyve_err *err)
{
	const char *cmd = control_cmd_name(req->cmd);
	bool present;
	int ret;

	ret = control_get_string(obj, "path", cmd, req->path, sizeof(req->path), &present, err);
	if (ret)
		return ret;
	if (!present || !req->path[0])
		return err_set(err, EINVAL, "%s: \"path\" is required (where to write the snapshot)", cmd);
	/* hyve's working directory is not the client's: the client resolves. */
	if (req->path[0] != '/')
		return err_set(err, EINVAL, "%s: \"path\" must be absolute, not '%s' (hyvectl resolves it for you)",
			       cmd, req->path);
	if (req->path[strlen(req->path) - 1] == '/')
		return err_set(err, EINVAL, "%s: \"path\" '%s' names a directory; give a snapshot name in it", cmd,
			       req->path);
	return 0;
}

/* Every member must be one this command takes: a misspelt "nite" should
 * not be dropped silently. */
static int control_check_members(struct json_object *obj, struct control_request *req, struct hyve_err *err)
{
	bool takes_path = req->cmd == CONTROL_CMD_CHECKPOINT || req->cmd == CONTROL_CMD_SUSPEND;
	bool takes_note = req->cmd == CONTROL_CMD_CHECKPOINT;

	json_object_object_foreach(obj, key, val) {
		(void)val;
		if (strcmp(key, "cmd") == 0 || strcmp(key, "id") == 0 || (takes_path && strcmp(key, "path") == 0) ||
		    (takes_note && (strcmp(key, "note") == 0 || strcmp(key, "incremental_from") == 0 ||
				    strcmp(key, "live") == 0)))
			continue;
		return err_set(err, EINVAL, "%s: unknown member \"%.64s\"", control_cmd_name(req->cmd), key);
	}
	return 0;
}

/* checkpoint's "incremental_from" (an absolute base path) and "live"
 * (a boolean). */
static int control_parse_checkpoint(struct json_object *obj, struct control_request *req, struct hyve_err *err)
{
	struct json_object *v;
	bool present;
	int ret;

	ret = control_get_string(obj, "incremental_from", "checkpoint", req->incremental_from,
				 sizeof(req->incremental_from), &present, err);
	if (ret)
		return ret;
	req->has_incremental = present;
	if (present && req->incremental_from[0] != '/')
		return err_set(err, EINVAL, "checkpoint: \"incremental_from\" must be an absolute path, not '%s'",
			       req->incremental_from);
	if (present && strcmp(req->incremental_from, req->path) == 0)
		return err_set(err, EINVAL, "checkpoint: \"incremental_from\" is the path being written");
	if (json_object_object_get_ex(obj, "live", &v)) {
		if (!json_object_is_type(v, json_type_boolean))
			return err_set(err, EINVAL, "checkpoint: \"live\" must be true or false, not %s",
				       control_json_type(v));
		req->live = json_object_get_boolean(v);
	}
	return 0;
}

static int control_parse_id(struct json_object *obj, struct control_request *req, struct hyve_err *err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, "id", &v))
		return 0;
	if (json_object_is_type(v, json_type_string)) {
		if (json_object_get_string_len(v) >= CONTROL_ID_MAX)
			return err_set(err, EINVAL, "\"id\" is longer than %d bytes", CONTROL_ID_MAX - 1);
	} else if (!json_object_is_type(v, json_type_int)) {
		return err_set(err, EINVAL, "\"id\" must be a string or an integer, not %s", control_json_type(v));
	}
	req->id = json_object_get(v);
	return 0;
}

static int control_parse_cmd(struct json_object *obj, struct control_request *req, struct hyve_err *err)
{
	struct json_object *v;
	const char *name;

	if (!json_object_object_get_ex(obj, "cmd", &v))
		return err_set(err, EINVAL, "no \"cmd\" member (expected one of status, pause, resume, "
					    "checkpoint, suspend, wake, powerdown, quit)");
	if (!json_object_is_type(v, json_type_string))
		return err_set(err, EINVAL, "\"cmd\" must be a string, not %s", control_json_type(v));
	name = json_object_get_string(v);
	for (unsigned i = 0; i < CONTROL_NR_CMDS; i++) {
		if (strcmp(name, control_cmd_names[i]) == 0 &&
		    (size_t)json_object_get_string_len(v) == strlen(name)) {
			req->cmd = (enum control_cmd)i;
			return 0;
		}
	}
	return err_set(err, EINVAL, "unknown command '%.64s' (expected one of status, pause, resume, "
				    "checkpoint, suspend, wake, powerdown, quit)", name);
}

static struct json_object *control_json_decode(const char *line, size_t len, struct hyve_err *err)
{
	struct json_tokener *tok;
	struct json_object *obj;
	enum json_tokener_error jerr;
	size_t end;

	if (len > CONTROL_LINE_MAX) {
		err_set(err, EMSGSIZE, "request is %zu bytes long; at most %d are allowed", len, CONTROL_LINE_MAX);
		return NULL;
	}
	if (len == 0) {
		err_set(err, EINVAL, "empty request (expected a JSON object like {\"cmd\":\"status\"})");
		return NULL;
	}
	if (memchr(line, '\0', len)) {
		err_set(err, EINVAL, "malformed JSON: the request contains a NUL byte");
		return NULL;
	}
	tok = json_tokener_new_ex(CONTROL_JSON_DEPTH);
	if (!tok) {
		err_set(err, ENOMEM, "out of memory");
		return NULL;
	}
	/* Strict: no comments, no single quotes, and the whole line parsed. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* A bare number or literal is only complete at the end of input,
		 * which json-c learns from a NUL byte. */
		obj = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		end = len;
	}
	json_tokener_free(tok);
	if (jerr == json_tokener_continue) {
		json_object_put(obj);
		err_set(err, EINVAL, "malformed JSON: the line ends inside a value");
		return NULL;
	}
	if (jerr != json_tokener_success) {
		err_set(err, EINVAL, "malformed JSON at byte %zu: %s", end, json_tokener_error_desc(jerr));
		return NULL;
	}
	for (size_t i = end; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t') {
			json_object_put(obj);
			err_set(err, EINVAL, "malformed JSON: unexpected data after the object at byte %zu", i);
			return NULL;
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		err_set(err, EINVAL, "a request must be a JSON object like {\"cmd\":\"status\"}, not %s",
			control_json_type(obj));
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

int control_request_parse(const char *line, size_t len, struct control_request *req, struct hyve_err *err)
{
	struct json_object *obj;
	bool present;
	int ret;

	memset(req, 0, sizeof(*req));
	obj = control_json_decode(line, len, err);
	if (!obj)
		return -err->code;
	ret = control_parse_id(obj, req, err);
	if (!ret)
		ret = control_parse_cmd(obj, req, err);
	if (!ret)
		ret = control_check_members(obj, req, err);
	if (!ret && (req->cmd == CONTROL_CMD_CHECKPOINT || req->cmd == CONTROL_CMD_SUSPEND))
		ret = control_parse_path(obj, req, err);
	if (!ret && req->cmd == CONTROL_CMD_CHECKPOINT) {
		ret = control_get_string(obj, "note", "checkpoint", req->note, sizeof(req->note), &present, err);
		req->has_note = present;
	}
	if (!ret && req->cmd == CONTROL_CMD_CHECKPOINT)
		ret = control_parse_checkpoint(obj, req, err);
	json_object_put(obj);
	return ret;
}

void control_request_release(struct control_request *req)
{
	json_object_put(req->id);
	req->id = NULL;
}

int control_default_path(const char *name, char *buf, size_t size, struct hyve_err *err)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (!name || !name[0] || strchr(name, '/'))
		return err_set(err, EINVAL, "VM name '%s' cannot name a control socket", name ? name : "");
	if (geteuid() != 0 && xdg && xdg[0] == '/')
		n = snprintf(buf, size, "%s/hyve/%s.sock", xdg, name);
	else
		n = snprintf(buf, size, "%s/%s.sock", CONTROL_RUN_DIR, name);
	if (n < 0 || (size_t)n >= size)
		return err_set(err, ENAMETOOLONG, "control socket path for VM '%s' is too long", name);
	return 0;
}

/* The control protocol's request parser and line framing reject every
 * malformed request with a message naming the problem, and never crash. */
#include <json-c/json.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "hyve/control.h"

/* Parses a NUL-terminated line; returns the result, leaves req to release. */
static int parse(const char *line, struct control_request *req, struct hyve_err *err)
{
	err_clear(err);
	return control_request_parse(line, strlen(line), req, err);
}

/* The line is rejected with EINVAL-like status and a message containing `word`. */
static int rejected_with(const char *line, const char *word)
{
	struct control_request req;
	struct hyve_err err = { 0 };
	int ret = parse(line, &req, &err);
	int ok = ret < 0 && err.code == -ret && strstr(err.msg, word) != NULL;

	if (!ok)
		printf("  line %.80s: ret %d, message '%s' (wanted '%s')\n", line, ret, err.msg, word);
	control_request_release(&req);
	return ok;
}

static void test_each_command_parses(void)
{
	static const char *const names[] = { "status", "pause", "resume", "quit", "wake", "powerdown" };
	static const enum control_cmd cmds[] = { CONTROL_CMD_STATUS, CONTROL_CMD_PAUSE, CONTROL_CMD_RESUME,
						 CONTROL_CMD_QUIT, CONTROL_CMD_WAKE, CONTROL_CMD_POWERDOWN };
	struct control_request req;
	struct hyve_err err;
	char line[128];

	for (unsigned i = 0; i < 6; i++) {
		snprintf(line, sizeof(line), " {\"cmd\": \"%s\"} ", names[i]);
		CHECK_EQ(parse(line, &req, &err), 0);
		CHECK_EQ(req.cmd, cmds[i]);
		CHECK(req.id == NULL);
		CHECK(strcmp(control_cmd_name(req.cmd), names[i]) == 0);
		control_request_release(&req);
	}
	CHECK_EQ(parse("{\"cmd\":\"checkpoint\",\"path\":\"/var/snap/vm1\",\"note\":\"before upgrade\"}", &req, &err),
		 0);
	CHECK_EQ(req.cmd, CONTROL_CMD_CHECKPOINT);
	CHECK(strcmp(req.path, "/var/snap/vm1") == 0);
	CHECK(req.has_note && strcmp(req.note, "before upgrade") == 0);
	control_request_release(&req);
	CHECK_EQ(parse("{\"path\":\"/s/vm1\",\"cmd\":\"suspend\"}", &req, &err), 0);
	CHECK_EQ(req.cmd, CONTROL_CMD_SUSPEND);
	CHECK(strcmp(req.path, "/s/vm1") == 0);
	CHECK(!req.has_note);
	control_request_release(&req);
	/* json escapes in a path arrive decoded */
	CHECK_EQ(parse("{\"cmd\":\"checkpoint\",\"path\":\"\\/tmp\\/a b\\u00e9\"}", &req, &err), 0);
	CHECK(strcmp(req.path, "/tmp/a b\xc3\xa9") == 0);
	control_request_release(&req);
}

static void test_id_is_kept_for_the_reply(void)
{
	struct control_request req;
	struct hyve_err err;

	CHECK_EQ(parse("{\"cmd\":\"status\",\"id\":42}", &req, &err), 0);
	CHECK(req.id && json_object_get_int(req.id) == 42);
	control_request_release(&req);
	CHECK(req.id == NULL);
	CHECK_EQ(parse("{\"id\":\"abc\",\"cmd\":\"pause\"}", &req, &err), 0);
	CHECK(req.id && strcmp(json_object_get_string(req.id), "abc") == 0);
	control_request_release(&req);
	/* A request that fails after its id was read still carries the id. */
	CHECK(parse("{\"id\":7,\"cmd\":\"reboot\"}", &req, &err) < 0);
	CHECK(req.id && json_object_get_int(req.id) == 7);
	control_request_release(&req);
	CHECK(rejected_with("{\"cmd\":\"status\",\"id\":[1]}", "\"id\" must be a string or an integer"));
	CHECK(rejected_with("{\"cmd\":\"status\",\"id\":1.5}", "\"id\" must be"));
	CHECK(rejected_with("{\"cmd\":\"status\",\"id\":null}", "\"id\" must be"));
}

static void test_malformed_json_is_rejected(void)
{
	struct control_request req;
	struct hyve_err err;
	static const char nul_line[] = "{\"cmd\":\"st\0atus\"}";

	CHECK(rejected_with("{", "malformed JSON"));
	CHECK(rejected_with("{\"cmd\":", "malformed JSON"));
	CHECK(rejected_with("not json", "malformed JSON"));
	CHECK(rejected_with("{\"cmd\":\"status\"} x", "malformed JSON at byte 17"));
	CHECK(rejected_with("{\"cmd\":\"status\"}{\"cmd\":\"quit\"}", "malformed JSON at byte 16"));
	CHECK(rejected_with("{'cmd':'status'}", "malformed JSON"));
	CHECK(rejected_with("{\"cmd\":\"status\",}", "malformed JSON"));
	CHECK(rejected_with("/* hi */ {\"cmd\":\"status\"}", "malformed JSON"));
	CHECK(rejected_with("", "empty request"));
	CHECK(rejected_with("[\"status\"]", "must be a JSON object"));
	CHECK(rejected_with("\"status\"", "must be a JSON object"));
	CHECK(rejected_with("42", "must be a JSON object"));
	CHECK(rejected_with("null", "must be a JSON object"));
	CHECK(rejected_with("{\"cmd\":\"status\",\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}", "JSON"));
	err_clear(&err);
	CHECK(control_request_parse(nul_line, sizeof(nul_line) - 1, &req, &err) < 0);
	CHECK(strstr(err.msg, "NUL") != NULL);
	control_request_release(&req);
	/* invalid UTF-8 and control bytes: an error or a parse, never a crash */
	err_clear(&err);
	if (control_request_parse("{\"cmd\":\"\xff\xfe\"}", 12, &req, &err) == 0)
		CHECK(0);
	control_request_release(&req);
}

static void test_wrong_types_are_rejected(void)
{
	CHECK(rejected_with("{\"cmd\":5}", "\"cmd\" must be a string, not int"));
	CHECK(rejected_with("{\"cmd\":null}", "\"cmd\" must be a string, not null"));
	CHECK(rejected_with("{\"cmd\":[\"status\"]}", "\"cmd\" must be a string, not array"));
	CHECK(rejected_with("{\"cmd\":\"checkpoint\",\"path\":5}", "\"path\" must be a string, not int"));
	CHECK(rejected_with("{\"cmd\":\"checkpoint\",\"path\":\"/a\",\"note\":true}",
			    "\"note\" must be a string, not boolean"));
	CHECK(rejected_with("{\"cmd\":\"suspend\",\"path\":{\"a\":1}}", "\"path\" must be a string, not object"));
}

static void test_unknown_command_and_members(void)
{
	CHECK(rejected_with("{\"cmd\":\"reboot\"}", "unknown command 'reboot'"));
	CHECK(rejected_with("{\"cmd\":\"STATUS\"}", "unknown command"));
	CHECK(rejected_with("{\"cmd\":\"\"}", "unknown command"));
	CHECK(rejected_with("{\"command\":\"status\"}", "no \"cmd\" member"));
	CHECK(rejected_with("{}", "no \"cmd\" member"));
	CHECK(rejected_with("{\"cmd\":\"checkpoint\",\"path\":\"/a\",\"nite\":\"x\"}", "unknown member \"nite\""));
	CHECK(rejected_with("{\"cmd\":\"status\",\"path\":\"/a\"}", "status: unknown member \"path\""));
	CHECK(rejected_with("{\"cmd\":\"suspend\",\"path\":\"/a\",\"note\":\"x\"}", "unknown member \"note\""));
	CHECK(rejected_with("{\"cmd\":\"wake\",\"path\":\"/a\"}", "wake: unknown member \"path\""));
	CHECK(rejected_with("{\"cmd\":\"powerdown\",\"now\":true}", "powerdown: unknown member \"now\""));
	CHECK(rejected_with("{\"cmd\":\"reboot\"}", "(expected one of status, pause, resume, checkpoint, "
						    "suspend, wake, powerdown, quit)"));
}

static void test_paths_must_be_given_and_absolute(void)
{
	CHECK(rejected_with("{\"cmd\":\"checkpoint\"}", "\"path\" is required"));
	CHECK(rejected_with("{\"cmd\":\"suspend\"}", "\"path\" is required"));
	CHECK(rejected_with("{\"cmd\":\"checkpoint\",\"path\":\"\"}", "\"path\" is required"));
	CHECK(rejected_with("{\"cmd\":\"checkpoint\",\"path\":\"snap/vm1\"}", "must be absolute"));
	CHECK(rejected_with("{\"cmd\":\"suspend\",\"path\":\"./vm1\"}", "must be absolute"));
	CHECK(rejected_with("{\"cmd\":\"suspend\",\"path\":\"~/vm1\"}", "must be absolute"));
	CHECK(rejected_with("{\"cmd\":\"checkpoint\",\"path\":\"/var/snap/\"}", "names a directory"));
	CHECK(rejected_with("{\"cmd\":\"checkpoint\",\"path\":\"/a\\u0000b\"}", "NUL"));
}

static void test_oversize_values_and_lines(void)
{
	size_t big = CONTROL_LINE_MAX + 100;
	char *line = malloc(big + 1);
	struct control_request req;
	struct hyve_err err = { 0 };
	int n;

	/* a path longer than PATH_MAX */
	n = snprintf(line, big, "{\"cmd\":\"checkpoint\",\"path\":\"/");
	memset(line + n, 'a', 5000);
	strcpy(line + n + 5000, "\"}");
	CHECK(rejected_with(line, "\"path\" is 5001 bytes long"));
	/* a note over its cap */
	n = snprintf(line, big, "{\"cmd\":\"checkpoint\",\"path\":\"/a\",\"note\":\"");
	memset(line + n, 'n', CONTROL_NOTE_MAX);
	strcpy(line + n + CONTROL_NOTE_MAX, "\"}");
	CHECK(rejected_with(line, "\"note\" is 1024 bytes long"));
	/* a whole line over the cap is refused before any parsing */
	memset(line, ' ', big);
	line[big] = '\0';
	line[0] = '{';
	CHECK(control_request_parse(line, big, &req, &err) == -EMSGSIZE);
	CHECK(strstr(err.msg, "at most 65536") != NULL);
	control_request_release(&req);
	free(line);
}

static void test_linebuf_splits_and_caps_lines(void)
{
	struct control_linebuf *lb = calloc(1, sizeof(*lb));
	char *out = malloc(CONTROL_LINE_MAX + 1);
	size_t len = 0;
	const char *two = "{\"cmd\":\"status\"}\r\n{\"cmd\":\"pause\"}\n{\"cm";

	memcpy(lb->buf, two, strlen(two));
	lb->len = strlen(two);
	CHECK_EQ(control_linebuf_next(lb, out, &len), 1);
	CHECK(strcmp(out, "{\"cmd\":\"status\"}") == 0 && len == 16);
	CHECK_EQ(control_linebuf_next(lb, out, &len), 1);
	CHECK(strcmp(out, "{\"cmd\":\"pause\"}") == 0);
	CHECK_EQ(control_linebuf_next(lb, out, &len), 0); /* "{\"cm" waits for more */
	CHECK_EQ(lb->len, 4);
	/* exactly CONTROL_LINE_MAX bytes then a newline: accepted */
	lb->len = 0;
	memset(lb->buf, 'x', CONTROL_LINE_MAX);
	lb->len = CONTROL_LINE_MAX;
	CHECK_EQ(control_linebuf_next(lb, out, &len), 0);
	CHECK_EQ(control_linebuf_room(lb), 1);
	lb->buf[lb->len++] = '\n';
	CHECK_EQ(control_linebuf_next(lb, out, &len), 1);
	CHECK_EQ(len, CONTROL_LINE_MAX);
	CHECK_EQ(lb->len, 0);
	/* one byte more without a newline: too long */
	memset(lb->buf, 'x', CONTROL_LINE_MAX + 1);
	lb->len = CONTROL_LINE_MAX + 1;
	CHECK_EQ(control_linebuf_room(lb), 0);
	CHECK_EQ(control_linebuf_next(lb, out, &len), -EMSGSIZE);
	free(out);
	free(lb);
}

static void test_default_path_names_the_vm(void)
{
	char buf[128];
	struct hyve_err err = { 0 };

	if (geteuid() == 0) {
		CHECK_EQ(control_default_path("vm1", buf, sizeof(buf), &err), 0);
		CHECK(strcmp(buf, "/run/hyve/vm1.sock") == 0);
	}
	CHECK(control_default_path("a/b", buf, sizeof(buf), &err) < 0);
	CHECK(control_default_path("", buf, sizeof(buf), &err) < 0);
	CHECK(control_default_path("vm1", buf, 8, &err) == -ENAMETOOLONG);
}

int main(void)
{
	RUN_TEST(test_each_command_parses);
	RUN_TEST(test_id_is_kept_for_the_reply);
	RUN_TEST(test_malformed_json_is_rejected);
	RUN_TEST(test_wrong_types_are_rejected);
	RUN_TEST(test_unknown_command_and_members);
	RUN_TEST(test_paths_must_be_given_and_absolute);
	RUN_TEST(test_oversize_values_and_lines);
	RUN_TEST(test_linebuf_splits_and_caps_lines);
	RUN_TEST(test_default_path_names_the_vm);
	return CHECK_DONE();
}

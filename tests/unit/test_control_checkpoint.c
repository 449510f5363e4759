/* The checkpoint request's incremental and live members (docs/control.md):
 * accepted where they belong, refused with a message naming them
 * elsewhere or when malformed. */
#include <string.h>

#include "check.h"
#include "hyve/control.h"

static int parse(const char *line, struct control_request *req, struct hyve_err *err)
{
	int ret;

	memset(err, 0, sizeof(*err));
	ret = control_request_parse(line, strlen(line), req, err);
	control_request_release(req);
	return ret;
}

static void incremental_and_live_parse(void)
{
	struct control_request req;
	struct hyve_err err;

	CHECK_EQ(parse("{\"cmd\":\"checkpoint\",\"path\":\"/s/b\",\"incremental_from\":\"/s/a\"}", &req, &err), 0);
	CHECK(req.has_incremental);
	CHECK(strcmp(req.incremental_from, "/s/a") == 0);
	CHECK(!req.live);
	CHECK_EQ(parse("{\"cmd\":\"checkpoint\",\"path\":\"/s/b\",\"live\":true}", &req, &err), 0);
	CHECK(req.live);
	CHECK(!req.has_incremental);
	CHECK_EQ(parse("{\"cmd\":\"checkpoint\",\"path\":\"/s/b\",\"live\":false}", &req, &err), 0);
	CHECK(!req.live);
}

static void bad_members_refused(void)
{
	struct control_request req;
	struct hyve_err err;

	CHECK(parse("{\"cmd\":\"checkpoint\",\"path\":\"/s/b\",\"incremental_from\":\"a\"}", &req, &err) < 0);
	CHECK(strstr(err.msg, "incremental_from") != NULL);
	CHECK(parse("{\"cmd\":\"checkpoint\",\"path\":\"/s/b\",\"incremental_from\":\"/s/b\"}", &req, &err) < 0);
	CHECK(strstr(err.msg, "being written") != NULL);
	CHECK(parse("{\"cmd\":\"checkpoint\",\"path\":\"/s/b\",\"incremental_from\":7}", &req, &err) < 0);
	CHECK(strstr(err.msg, "must be a string") != NULL);
	CHECK(parse("{\"cmd\":\"checkpoint\",\"path\":\"/s/b\",\"live\":\"yes\"}", &req, &err) < 0);
	CHECK(strstr(err.msg, "live") != NULL);
	CHECK(parse("{\"cmd\":\"suspend\",\"path\":\"/s/b\",\"live\":true}", &req, &err) < 0);
	CHECK(strstr(err.msg, "unknown member \"live\"") != NULL);
	CHECK(parse("{\"cmd\":\"suspend\",\"path\":\"/s/b\",\"incremental_from\":\"/s/a\"}", &req, &err) < 0);
	CHECK(strstr(err.msg, "unknown member") != NULL);
}

int main(void)
{
	RUN_TEST(incremental_and_live_parse);
	RUN_TEST(bad_members_refused);
	return CHECK_DONE();
}

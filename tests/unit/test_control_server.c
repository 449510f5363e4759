/* The control server on a machine without vCPUs (no /dev/kvm needed): the
 * socket's directory and mode, stale and live sockets, and requests from
 * several clients at once, malformed and oversized ones included. */
#include <fcntl.h>
#include <json-c/json.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "hyve/control.h"
#include "hyve/evloop.h"
#include "hyve/machine.h"

static char tmpdir[64];

static void fake_machine(struct machine *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->cfg.name, sizeof(m->cfg.name), "unit");
	m->cfg.mem_size = 64ULL << 20;
	pthread_mutex_init(&m->pause_lock, NULL);
	pthread_cond_init(&m->pause_cond, NULL);
	m->loop = evloop_new(NULL);
}

static void fake_machine_free(struct machine *m)
{
	evloop_free(m->loop);
	pthread_mutex_destroy(&m->pause_lock);
	pthread_cond_destroy(&m->pause_cond);
}

static void path_in_tmp(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", tmpdir, rel);
}

static int unix_socket_at(const char *path, bool listening)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || (listening && listen(fd, 1) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int client_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void client_send(int fd, const char *text)
{
	size_t n = strlen(text);

	if (send(fd, text, n, MSG_NOSIGNAL) != (ssize_t)n)
		printf("  short send\n");
}

/* Reads one reply line (5 s at most).  Returns a parsed object, or NULL at
 * EOF or timeout (*eof tells which). */
static struct json_object *client_reply(int fd, bool *eof)
{
	char line[4096];
	size_t len = 0;

	*eof = false;
	while (len < sizeof(line) - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 5000) <= 0)
			return NULL;
		n = read(fd, line + len, 1);
		if (n <= 0) {
			*eof = true;
			return NULL;
		}
		if (line[len] == '\n') {
			line[len] = '\0';
			return json_tokener_parse(line);
		}
		len++;
	}
	return NULL;
}

static const char *member(struct json_object *r, const char *key)
{
	struct json_object *v;

	return r && json_object_object_get_ex(r, key, &v) ? json_object_get_string(v) : "";
}

/* Sends a request and checks the reply's "ok" and one member. */
static bool ask(int fd, const char *req, bool want_ok, const char *key, const char *want)
{
	struct json_object *r;
	bool eof, good;

	client_send(fd, req);
	r = client_reply(fd, &eof);
	good = r && strcmp(member(r, "ok"), want_ok ? "true" : "false") == 0 &&
	       (!key || strstr(member(r, key), want) != NULL);
	if (!good)
		printf("  %s -> %s\n", req, r ? json_object_to_json_string(r) : eof ? "EOF" : "timeout");
	json_object_put(r);
	return good;
}

static void test_directory_created_0700_socket_0600(void)
{
	struct machine m;
	struct hyve_err err = { 0 };
	char path[128], dir[128];
	struct stat st;
	mode_t mask = umask(022);

	fake_machine(&m);
	path_in_tmp(dir, sizeof(dir), "fresh");
	path_in_tmp(path, sizeof(path), "fresh/unit.sock");
	CHECK_EQ(control_start(&m, path, &err), 0);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 07777) == 0700);
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	CHECK_EQ(umask(mask), 022); /* restored after bind */
	control_stop(&m);
	CHECK(lstat(path, &st) < 0 && errno == ENOENT);
	control_stop(&m); /* twice: harmless */
	rmdir(dir);
	fake_machine_free(&m);
}

static void test_directory_others_can_enter_is_refused(void)
{
	struct machine m;
	struct hyve_err err = { 0 };
	char path[128], dir[128];

	fake_machine(&m);
	path_in_tmp(dir, sizeof(dir), "open");
	path_in_tmp(path, sizeof(path), "open/unit.sock");
	mkdir(dir, 0700);
	chmod(dir, 0755);
	CHECK_EQ(control_start(&m, path, &err), -EPERM);
	CHECK(strstr(err.msg, "is mode 0755") && strstr(err.msg, "0700"));
	CHECK(access(path, F_OK) < 0);
	err_clear(&err);
	chmod(dir, 0710);
	CHECK_EQ(control_start(&m, path, &err), -EPERM);
	rmdir(dir);
	/* a parent that does not exist is not created on the way */
	err_clear(&err);
	path_in_tmp(path, sizeof(path), "no/such/unit.sock");
	CHECK(control_start(&m, path, &err) == -ENOENT);
	CHECK(strstr(err.msg, "cannot create control directory") != NULL);
	fake_machine_free(&m);
}

static void test_directory_of_another_uid_is_refused(void)
{
	struct machine m;
	struct hyve_err err = { 0 };
	char path[128], dir[128];

	fake_machine(&m);
	path_in_tmp(dir, sizeof(dir), "theirs");
	path_in_tmp(path, sizeof(path), "theirs/unit.sock");
	mkdir(dir, 0700);
	CHECK(chown(dir, 65534, 65534) == 0);
	CHECK_EQ(control_start(&m, path, &err), -EPERM);
	CHECK(strstr(err.msg, "belongs to uid 65534") != NULL);
	rmdir(dir);
	fake_machine_free(&m);
}

static void test_stale_socket_replaced_live_refused(void)
{
	struct machine m;
	struct hyve_err err = { 0 };
	char path[128];
	struct stat st;
	int fd;

	fake_machine(&m);
	path_in_tmp(path, sizeof(path), "unit.sock");
	/* stale: bound once, nobody listens */
	fd = unix_socket_at(path, false);
	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ(control_start(&m, path, &err), 0);
	control_stop(&m);
	/* live: someone listens */
	fd = unix_socket_at(path, true);
	CHECK(fd >= 0);
	CHECK_EQ(control_start(&m, path, &err), -EADDRINUSE);
	CHECK(strstr(err.msg, "a hyve is already running on") != NULL);
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)); /* left alone */
	close(fd);
	unlink(path);
	/* a regular file is never replaced */
	err_clear(&err);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	CHECK_EQ(control_start(&m, path, &err), -EEXIST);
	CHECK(strstr(err.msg, "is not a socket") != NULL);
	CHECK(lstat(path, &st) == 0 && S_ISREG(st.st_mode));
	unlink(path);
	fake_machine_free(&m);
}

static void *loop_thread(void *arg)
{
	struct machine *m = arg;

	evloop_run(m->loop);
	return NULL;
}

static void test_requests_from_several_clients(void)
{
	struct machine m;
	struct hyve_err err = { 0 };
	char path[128];
	pthread_t loop;
	int a, b, c, d, extra[CONTROL_CLIENTS_MAX];
	unsigned nr_extra = 0;
	struct json_object *r;
	char *big;
	bool eof;

	fake_machine(&m);
	path_in_tmp(path, sizeof(path), "unit.sock");
	CHECK_EQ(control_start(&m, path, &err), 0);
	pthread_create(&loop, NULL, loop_thread, &m);
	a = client_connect(path);
	b = client_connect(path);
	c = client_connect(path);
	CHECK(a >= 0 && b >= 0 && c >= 0);

	CHECK(ask(a, "{\"cmd\":\"status\"}\n", true, "state", "running"));
	CHECK(ask(a, "{\"cmd\":\"status\"}\n", true, "name", "unit"));
	CHECK(ask(a, "{\"cmd\":\"status\"}\n", true, "memory", "67108864"));
	CHECK(ask(a, "{\"cmd\":\"status\",\"id\":\"q1\"}\n", true, "id", "q1"));
	/* c sends half a request; b is served meanwhile */
	client_send(c, "{\"cmd\":\"pa");
	CHECK(ask(b, "{\"cmd\":\"pause\"}\n", true, "state", "paused"));
	CHECK(ask(a, "{\"cmd\":\"status\"}\n", true, "state", "paused"));
	CHECK(ask(c, "use\"}\n", true, "message", "already paused"));
	CHECK(ask(a, "{\"cmd\":\"resume\",\"id\":9}\r\n", true, "id", "9"));
	CHECK(ask(a, "{\"cmd\":\"resume\"}\n", true, "message", "already running"));
	CHECK(ask(b, "{\"cmd\":\"status\"}\n", true, "state", "running"));
	/* malformed and invalid requests: an error, and the server answers on */
	CHECK(ask(a, "{\"cmd\":\"status\"\n", false, "error", "malformed JSON"));
	CHECK(ask(a, "{\"cmd\":\"reboot\",\"id\":3}\n", false, "id", "3"));
	CHECK(ask(a, "{\"cmd\":\"checkpoint\",\"path\":\"rel/snap\"}\n", false, "error", "must be absolute"));
	CHECK(ask(a, "\n\n{\"cmd\":\"status\"}\n", true, "state", "running"));
	/* two requests in one write: two replies, in order */
	client_send(b, "{\"cmd\":\"status\",\"id\":1}\n{\"cmd\":\"status\",\"id\":2}\n");
	r = client_reply(b, &eof);
	CHECK(strcmp(member(r, "id"), "1") == 0);
	json_object_put(r);
	r = client_reply(b, &eof);
	CHECK(strcmp(member(r, "id"), "2") == 0);
	json_object_put(r);
	/* an oversized line: an error reply, then the connection closes */
	d = client_connect(path);
	big = malloc(CONTROL_LINE_MAX + 2);
	memset(big, 'x', CONTROL_LINE_MAX + 1);
	big[CONTROL_LINE_MAX + 1] = '\0';
	client_send(d, big);
	free(big);
	r = client_reply(d, &eof);
	CHECK(strstr(member(r, "error"), "longer than 65536 bytes") != NULL);
	json_object_put(r);
	r = client_reply(d, &eof);
	CHECK(r == NULL && eof);
	close(d);
	CHECK(ask(a, "{\"cmd\":\"status\"}\n", true, "state", "running"));
	/* past CONTROL_CLIENTS_MAX connections: told so and closed */
	for (nr_extra = 0; nr_extra < CONTROL_CLIENTS_MAX - 3; nr_extra++) {
		extra[nr_extra] = client_connect(path);
		CHECK(ask(extra[nr_extra], "{\"cmd\":\"status\"}\n", true, "state", "running"));
	}
	d = client_connect(path);
	r = client_reply(d, &eof);
	CHECK(strstr(member(r, "error"), "too many control connections") != NULL);
	json_object_put(r);
	close(d);
	for (unsigned i = 0; i < nr_extra; i++)
		close(extra[i]);
	/* quit: the reply, then hyve's loop ends with status 1 (power off) */
	CHECK(ask(c, "{\"cmd\":\"quit\"}\n", true, "exit_status", "1"));
	pthread_join(loop, NULL);
	CHECK_EQ(m.exit_status, HYVE_EXIT_POWEROFF);
	control_stop(&m);
	r = client_reply(a, &eof);
	CHECK(r == NULL && eof);
	CHECK(access(path, F_OK) < 0);
	close(a);
	close(b);
	close(c);
	fake_machine_free(&m);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hyve-control-test.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		printf("FAIL: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	RUN_TEST(test_directory_created_0700_socket_0600);
	RUN_TEST(test_directory_others_can_enter_is_refused);
	if (geteuid() == 0)
		RUN_TEST(test_directory_of_another_uid_is_refused);
	else
		SKIP_TEST(test_directory_of_another_uid_is_refused, "needs root to chown a directory");
	RUN_TEST(test_stale_socket_replaced_live_refused);
	RUN_TEST(test_requests_from_several_clients);
	rmdir(tmpdir);
	return CHECK_DONE();
}

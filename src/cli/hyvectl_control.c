/* hyvectl(8) control commands: one request to a running hyve over its
 * control socket (docs/control.md), progress on a terminal, one line of
 * result.  Exit status: 0 done, 1 refused or failed, 2 usage error. */
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hyve/control.h"
#include "hyve/hyvectl.h"

#define HYVECTL_EXIT_OK 0
#define HYVECTL_EXIT_FAILED 1
#define HYVECTL_EXIT_USAGE 2
#define HYVECTL_TIMEOUT_DEFAULT 30
/* Replies are small; a longer line means something else is talking. */
#define HYVECTL_REPLY_MAX (1u << 20)

struct hyvectl_ctl {
	const char *vm, *socket_path, *target, *note, *base;
	enum control_cmd cmd;
	bool have_cmd, json, live;
	int timeout_s;
	char label[256];                    /* "vm1" or the socket path */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char target_abs[CONTROL_PATH_MAX];  /* checkpoint/suspend PATH, resolved */
	char base_abs[CONTROL_PATH_MAX];    /* --incremental-from BASE, resolved */
	/* Progress display. */
	bool progress_shown;
	double t0;
	char *rbuf;
	size_t rlen;
};

static double hyvectl_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int hyvectl_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "hyvectl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see hyvectl --help)\n");
	return HYVECTL_EXIT_USAGE;
}

static int hyvectl_set_cmd(struct hyvectl_ctl *ctl, enum control_cmd cmd, const char *opt)
{
	if (ctl->have_cmd)
		return hyvectl_usage_error("%s: give one action at a time", opt);
	ctl->cmd = cmd;
	ctl->have_cmd = true;
	return 0;
}

static int hyvectl_parse(struct hyvectl_ctl *ctl, int argc, char **argv)
{
	enum { O_VM = 256, O_SOCKET, O_CHECKPOINT, O_SUSPEND, O_NOTE, O_PAUSE, O_RESUME, O_STATUS,
	       O_QUIT, O_JSON, O_TIMEOUT, O_INCREMENTAL, O_LIVE, O_WAKE, O_POWERDOWN };
	static const struct option longopts[] = {
		{ "vm", required_argument, NULL, O_VM },
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "checkpoint", required_argument, NULL, O_CHECKPOINT },
		{ "suspend", required_argument, NULL, O_SUSPEND },
		{ "note", required_argument, NULL, O_NOTE },
		{ "incremental-from", required_argument, NULL, O_INCREMENTAL },
		{ "live", no_argument, NULL, O_LIVE },
		{ "pause", no_argument, NULL, O_PAUSE },
		{ "resume", no_argument, NULL, O_RESUME },
		{ "status", no_argument, NULL, O_STATUS },
		{ "quit", no_argument, NULL, O_QUIT },
		{ "wake", no_argument, NULL, O_WAKE },
		{ "powerdown", no_argument, NULL, O_POWERDOWN },
		{ "json", no_argument, NULL, O_JSON },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long v;
	int opt, ret = 0;

	ctl->timeout_s = HYVECTL_TIMEOUT_DEFAULT;
	opterr = 0;
	optind = 1;
	while (!ret && (opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case O_VM:
			ctl->vm = optarg;
			break;
		case O_SOCKET:
			ctl->socket_path = optarg;
			break;
		case O_CHECKPOINT:
		case O_SUSPEND:
			ret = hyvectl_set_cmd(ctl, opt == O_SUSPEND ? CONTROL_CMD_SUSPEND : CONTROL_CMD_CHECKPOINT,
					      argv[optind - 1]);
			ctl->target = optarg;
			break;
		case O_NOTE:
			ctl->note = optarg;
			break;
		case O_INCREMENTAL:
			ctl->base = optarg;
			break;
		case O_LIVE:
			ctl->live = true;
			break;
		case O_PAUSE:
			ret = hyvectl_set_cmd(ctl, CONTROL_CMD_PAUSE, "--pause");
			break;
		case O_RESUME:
			ret = hyvectl_set_cmd(ctl, CONTROL_CMD_RESUME, "--resume");
			break;
		case O_STATUS:
			ret = hyvectl_set_cmd(ctl, CONTROL_CMD_STATUS, "--status");
			break;
		case O_QUIT:
			ret = hyvectl_set_cmd(ctl, CONTROL_CMD_QUIT, "--quit");
			break;
		case O_WAKE:
			ret = hyvectl_set_cmd(ctl, CONTROL_CMD_WAKE, "--wake");
			break;
		case O_POWERDOWN:
			ret = hyvectl_set_cmd(ctl, CONTROL_CMD_POWERDOWN, "--powerdown");
			break;
		case O_JSON:
			ctl->json = true;
			break;
		case O_TIMEOUT:
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 0 || v > 86400)
				return hyvectl_usage_error("--timeout=%s: give whole seconds, 0 to 86400 (0 = none)",
							   optarg);
			ctl->timeout_s = (int)v;
			break;
		default:
			return hyvectl_usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (ret)
		return ret;
	if (optind < argc)
		return hyvectl_usage_error("unexpected argument '%s'", argv[optind]);
	if (!ctl->have_cmd)
		return hyvectl_usage_error("%sno action given (--status, --pause, --resume, --checkpoint=PATH, "
					   "--suspend=PATH, --wake, --powerdown, --quit)", "");
	if (!ctl->vm == !ctl->socket_path)
		return hyvectl_usage_error("%sgive either --vm=NAME or --socket=PATH", "");
	if (ctl->note && ctl->cmd != CONTROL_CMD_CHECKPOINT)
		return hyvectl_usage_error("%s--note goes with --checkpoint only", "");
	if ((ctl->base || ctl->live) && ctl->cmd != CONTROL_CMD_CHECKPOINT)
		return hyvectl_usage_error("%s--incremental-from and --live go with --checkpoint only", "");
	if (ctl->note && strlen(ctl->note) >= CONTROL_NOTE_MAX)
		return hyvectl_usage_error("--note is too long (at most %s bytes)", "1023");
	return 0;
}

/* The server refuses relative paths (its working directory is not ours):
 * resolve the directory here, keep the last component as given. */
static int hyvectl_resolve_path(const char *target, char *out, size_t size)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(target, '/');
	const char *base = slash ? slash + 1 : target;
	size_t dlen = slash ? (size_t)(slash - target) : 0;
	int n;

	if (!base[0] || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return hyvectl_usage_error("'%s' names a directory; give a snapshot name (like DIR/vm1)", target);
	if (dlen >= sizeof(dir))
		return hyvectl_usage_error("'%s': path too long", target);
	if (!slash)
		strcpy(dir, ".");
	else if (dlen == 0)
		strcpy(dir, "/");
	else {
		memcpy(dir, target, dlen);
		dir[dlen] = '\0';
	}
	if (!realpath(dir, real)) {
		fprintf(stderr, "hyvectl: %s: directory %s: %s\n", target, dir, strerror(errno));
		return HYVECTL_EXIT_FAILED;
	}
	n = snprintf(out, size, "%s/%s", strcmp(real, "/") ? real : "", base);
	if (n < 0 || (size_t)n >= size)
		return hyvectl_usage_error("'%s': path too long", target);
	return 0;
}

static int hyvectl_resolve_target(struct hyvectl_ctl *ctl)
{
	int ret = hyvectl_resolve_path(ctl->target, ctl->target_abs, sizeof(ctl->target_abs));

	if (!ret && ctl->base)
		ret = hyvectl_resolve_path(ctl->base, ctl->base_abs, sizeof(ctl->base_abs));
	return ret;
}

static int hyvectl_connect(struct hyvectl_ctl *ctl)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(ctl->path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "hyvectl: socket path %s is too long\n", ctl->path);
		return -1;
	}
	strcpy(sa.sun_path, ctl->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (errno == ENOENT && ctl->vm)
		fprintf(stderr, "hyvectl: no VM named %s (no socket at %s)\n", ctl->vm, ctl->path);
	else if (errno == ENOENT)
		fprintf(stderr, "hyvectl: no VM at %s (no such socket)\n", ctl->path);
	else if (errno == ECONNREFUSED)
		fprintf(stderr, "hyvectl: %s: no hyve is listening on %s (a stale socket: the VM is not running)\n",
			ctl->label, ctl->path);
	else if (errno == EACCES || errno == EPERM)
		fprintf(stderr, "hyvectl: %s: permission denied on %s (hyve runs as another user?)\n", ctl->label,
			ctl->path);
	else
		fprintf(stderr, "hyvectl: %s: cannot connect to %s: %s\n", ctl->label, ctl->path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int hyvectl_send_request(struct hyvectl_ctl *ctl, int fd)
{
	struct json_object *req = json_object_new_object();
	const char *text;
	char *line;
	size_t n, off = 0;
	int ret = 0;

	json_object_object_add(req, "cmd", json_object_new_string(control_cmd_name(ctl->cmd)));
	if (ctl->cmd == CONTROL_CMD_CHECKPOINT || ctl->cmd == CONTROL_CMD_SUSPEND)
		json_object_object_add(req, "path", json_object_new_string(ctl->target_abs));
	if (ctl->note)
		json_object_object_add(req, "note", json_object_new_string(ctl->note));
	if (ctl->base)
		json_object_object_add(req, "incremental_from", json_object_new_string(ctl->base_abs));
	if (ctl->live)
		json_object_object_add(req, "live", json_object_new_boolean(1));
	text = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(text);
	line = malloc(n + 2);
	if (!line) {
		json_object_put(req);
		return -ENOMEM;
	}
	memcpy(line, text, n);
	line[n++] = '\n';
	while (off < n) {
		ssize_t w = send(fd, line + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ret = -errno;
			break;
		}
		off += (size_t)w;
	}
	free(line);
	json_object_put(req);
	return ret;
}

static void hyvectl_size(char *buf, size_t size, double bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;

	while (bytes >= 1024 && u < 4) {
		bytes /= 1024;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static void hyvectl_show_progress(struct hyvectl_ctl *ctl, struct json_object *prog)
{
	struct json_object *b, *t;
	double bytes, total, secs = hyvectl_now() - ctl->t0;
	char sb[32], st[32], sr[32];

	if (!isatty(STDERR_FILENO) || !json_object_object_get_ex(prog, "bytes", &b) ||
	    !json_object_object_get_ex(prog, "total", &t))
		return;
	bytes = (double)json_object_get_uint64(b);
	total = (double)json_object_get_uint64(t);
	hyvectl_size(sb, sizeof(sb), bytes);
	hyvectl_size(st, sizeof(st), total);
	hyvectl_size(sr, sizeof(sr), secs > 0 ? bytes / secs : 0);
	fprintf(stderr, "\r%s: %s of %s (%.0f%%), %s/s\033[K", control_cmd_name(ctl->cmd), sb, st,
		total > 0 ? 100.0 * bytes / total : 0.0, sr);
	ctl->progress_shown = true;
}

/* Reads the next line into a fresh string; returns it, or NULL at EOF (*eof)
 * or on timeout/error (message printed). */
static char *hyvectl_read_line(struct hyvectl_ctl *ctl, int fd, bool *eof)
{
	char chunk[4096];

	*eof = false;
	for (;;) {
		char *nl = ctl->rlen ? memchr(ctl->rbuf, '\n', ctl->rlen) : NULL;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int pr;

		if (nl) {
			size_t len = (size_t)(nl - ctl->rbuf);
			char *line = strndup(ctl->rbuf, len);

			memmove(ctl->rbuf, nl + 1, ctl->rlen - len - 1);
			ctl->rlen -= len + 1;
			return line;
		}
		if (ctl->rlen > HYVECTL_REPLY_MAX) {
			fprintf(stderr, "hyvectl: %s: reply longer than %u bytes: is this a hyve control socket?\n",
				ctl->label, HYVECTL_REPLY_MAX);
			return NULL;
		}
		pr = poll(&pfd, 1, ctl->timeout_s ? ctl->timeout_s * 1000 : -1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			fprintf(stderr, "%shyvectl: %s: no answer from hyve within %d s (a longer --timeout?)\n",
				ctl->progress_shown ? "\n" : "", ctl->label, ctl->timeout_s);
			ctl->progress_shown = false;
			return NULL;
		}
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*eof = n == 0;
			if (n < 0)
				fprintf(stderr, "hyvectl: %s: reading the reply: %s\n", ctl->label, strerror(errno));
			return NULL;
		}
		char *nb = realloc(ctl->rbuf, ctl->rlen + (size_t)n);
		if (!nb)
			return NULL;
		ctl->rbuf = nb;
		memcpy(ctl->rbuf + ctl->rlen, chunk, (size_t)n);
		ctl->rlen += (size_t)n;
	}
}

static void hyvectl_print_status(struct hyvectl_ctl *ctl, struct json_object *r)
{
	static const char *const keys[] = { "name", "state", "vcpus", "memory", "uptime", "pid", "version" };
	struct json_object *v;
	char buf[64];

	(void)ctl;
	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!json_object_object_get_ex(r, keys[i], &v))
			continue;
		if (strcmp(keys[i], "memory") == 0) {
			hyvectl_size(buf, sizeof(buf), (double)json_object_get_uint64(v));
			printf("%-8s %s\n", "memory:", buf);
		} else if (strcmp(keys[i], "uptime") == 0) {
			long s = (long)json_object_get_double(v);

			printf("%-8s %ldd %02ld:%02ld:%02ld\n", "uptime:", s / 86400, s / 3600 % 24, s / 60 % 60,
			       s % 60);
		} else {
			snprintf(buf, sizeof(buf), "%s:", keys[i]);
			printf("%-8s %s\n", buf, json_object_get_string(v));
		}
	}
}

/* What the guest does after a checkpoint, from the reply's state. */
static const char *hyvectl_after_save(struct json_object *r)
{
	struct json_object *v;
	const char *state = json_object_object_get_ex(r, "state", &v) ? json_object_get_string(v) : "";

	if (strcmp(state, "paused") == 0)
		return "the guest stays paused";
	if (strcmp(state, "sleeping") == 0)
		return "the guest sleeps on (ACPI S3)";
	return "the guest runs on";
}

static void hyvectl_print_done(struct hyvectl_ctl *ctl, struct json_object *r)
{
	struct json_object *v;
	double secs = 0, bytes = 0, paused = -1;
	char sb[32];

	if (json_object_object_get_ex(r, "seconds", &v))
		secs = json_object_get_double(v);
	if (json_object_object_get_ex(r, "paused_seconds", &v))
		paused = json_object_get_double(v);
	if (json_object_object_get_ex(r, "bytes", &v))
		bytes = (double)json_object_get_uint64(v);
	hyvectl_size(sb, sizeof(sb), bytes);
	switch (ctl->cmd) {
	case CONTROL_CMD_STATUS:
		hyvectl_print_status(ctl, r);
		break;
	case CONTROL_CMD_PAUSE:
	case CONTROL_CMD_RESUME:
		if (!json_object_object_get_ex(r, "message", &v))
			json_object_object_get_ex(r, "state", &v);
		printf("%s: %s\n", ctl->label, v ? json_object_get_string(v) : "done");
		break;
	case CONTROL_CMD_CHECKPOINT:
		if (json_object_object_get_ex(r, "pages", &v))
			printf("%s: %" PRIu64 " pages carried%s%s\n", ctl->label, json_object_get_uint64(v),
			       ctl->base ? "; base " : "", ctl->base ? ctl->base_abs : "");
		if (paused >= 0)
			printf("%s: checkpoint written to %s (%s in %.2f s, the guest stopped for %.0f ms); %s\n",
			       ctl->label, ctl->target_abs, sb, secs, paused * 1000, hyvectl_after_save(r));
		else
			printf("%s: checkpoint written to %s (%s in %.2f s); %s\n", ctl->label, ctl->target_abs,
			       sb, secs, hyvectl_after_save(r));
		break;
	case CONTROL_CMD_SUSPEND:
		printf("%s: suspended to %s (%s in %.2f s); hyve has exited\n", ctl->label, ctl->target_abs, sb,
		       secs);
		break;
	case CONTROL_CMD_QUIT:
		printf("%s: powered off; hyve has exited\n", ctl->label);
		break;
	case CONTROL_CMD_WAKE:
		printf("%s: woken from S3; the guest runs at its waking vector\n", ctl->label);
		break;
	case CONTROL_CMD_POWERDOWN:
		if (json_object_object_get_ex(r, "woke", &v) && json_object_get_boolean(v))
			printf("%s: power button pressed; the guest woke from S3\n", ctl->label);
		else
			printf("%s: power button pressed\n", ctl->label);
		break;
	}
}

/* Reads progress lines and the reply; returns the exit status. */
static int hyvectl_converse(struct hyvectl_ctl *ctl, int fd)
{
	struct json_object *r = NULL, *v;
	bool eof, ok;
	char *line;
	int status = HYVECTL_EXIT_FAILED;

	for (;;) {
		line = hyvectl_read_line(ctl, fd, &eof);
		if (!line) {
			if (ctl->progress_shown)
				fputc('\n', stderr);
			if (eof)
				fprintf(stderr, "hyvectl: %s: hyve closed the connection without replying\n", ctl->label);
			return HYVECTL_EXIT_FAILED;
		}
		r = json_tokener_parse(line);
		if (!r || !json_object_is_type(r, json_type_object)) {
			fprintf(stderr, "hyvectl: %s: unreadable reply '%.200s'\n", ctl->label, line);
			goto out;
		}
		if (json_object_object_get_ex(r, "progress", &v)) {
			hyvectl_show_progress(ctl, v);
			json_object_put(r);
			free(line);
			continue;
		}
		break;
	}
	if (ctl->progress_shown)
		fputc('\n', stderr);
	ok = json_object_object_get_ex(r, "ok", &v) && json_object_get_boolean(v);
	if (!ok) {
		json_object_object_get_ex(r, "error", &v);
		fprintf(stderr, "hyvectl: %s: %s\n", ctl->label, v ? json_object_get_string(v) : "request refused");
		if (ctl->json)
			printf("%s\n", line);
		goto out;
	}
	/* suspend and quit end hyve: wait until it is gone, so that a script
	 * may restore or start the VM again right after. */
	if (ctl->cmd == CONTROL_CMD_SUSPEND || ctl->cmd == CONTROL_CMD_QUIT) {
		char *more;

		while ((more = hyvectl_read_line(ctl, fd, &eof)) != NULL)
			free(more);
		if (!eof) {
			fprintf(stderr, "hyvectl: %s: hyve accepted the request but has not exited\n", ctl->label);
			goto out;
		}
	}
	if (ctl->json)
		printf("%s\n", line);
	else
		hyvectl_print_done(ctl, r);
	status = HYVECTL_EXIT_OK;
out:
	json_object_put(r);
	free(line);
	return status;
}

int hyvectl_control_main(int argc, char **argv)
{
	struct hyvectl_ctl *ctl = calloc(1, sizeof(*ctl));
	struct hyve_err err = { 0 };
	int fd, ret, status;

	if (!ctl) {
		fprintf(stderr, "hyvectl: out of memory\n");
		return HYVECTL_EXIT_FAILED;
	}
	status = hyvectl_parse(ctl, argc, argv);
	if (status)
		goto out;
	if (ctl->vm) {
		if (!ctl->vm[0] || strchr(ctl->vm, '/') || control_default_path(ctl->vm, ctl->path, sizeof(ctl->path),
										 &err)) {
			status = hyvectl_usage_error("--vm=%s: not a VM name", ctl->vm);
			goto out;
		}
		snprintf(ctl->label, sizeof(ctl->label), "%s", ctl->vm);
	} else {
		if (snprintf(ctl->path, sizeof(ctl->path), "%s", ctl->socket_path) >= (int)sizeof(ctl->path)) {
			status = hyvectl_usage_error("--socket=%s: path too long for a UNIX socket", ctl->socket_path);
			goto out;
		}
		snprintf(ctl->label, sizeof(ctl->label), "%s", ctl->socket_path);
	}
	if (ctl->cmd == CONTROL_CMD_CHECKPOINT || ctl->cmd == CONTROL_CMD_SUSPEND) {
		status = hyvectl_resolve_target(ctl);
		if (status)
			goto out;
	}
	status = HYVECTL_EXIT_FAILED;
	fd = hyvectl_connect(ctl);
	if (fd < 0)
		goto out;
	ctl->t0 = hyvectl_now();
	ret = hyvectl_send_request(ctl, fd);
	if (ret < 0)
		fprintf(stderr, "hyvectl: %s: sending the request: %s\n", ctl->label, strerror(-ret));
	else
		status = hyvectl_converse(ctl, fd);
	close(fd);
out:
	free(ctl->rbuf);
	free(ctl);
	return status;
}

/* The control server: a UNIX stream socket on the main event loop.  Each
 * connection sends request lines and gets one reply line per request
 * (progress lines first for long saves).  The protocol is in
 * docs/control.md; parsing is in control_proto.c.
 *
 * Everything here runs on the main thread, including a checkpoint's save:
 * the vCPUs are parked meanwhile, and device timers (also main-thread) then
 * cannot change device state under the save either. */
#include <json-c/json.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/control_internal.h"
#include "hyve/cli.h"
#include "hyve/control.h"
#include "hyve/evloop.h"
#include "hyve/machine.h"
#include "hyve/vmsnap.h"

/* A client that does not read its replies for this long is dropped, so it
 * cannot stall the main loop. */
#define CONTROL_SEND_TIMEOUT_MS 5000
#define CONTROL_PROGRESS_INTERVAL_NS (100ULL * 1000 * 1000)

struct control;

struct control_client {
	struct control *ctl;
	int fd;
	bool closing;
	struct json_object *id;      /* of the request being answered */
	uint64_t progress_last_ns;   /* throttles progress lines */
	uint64_t progress_bytes;
	struct control_linebuf in;
	char line[CONTROL_LINE_MAX + 1];
};

struct control {
	struct machine *m;
	struct control_socket sock;
	bool paused; /* by a pause request; resume undoes it */
	uint64_t started_ns;
	struct control_client *clients[CONTROL_CLIENTS_MAX];
};

/* A hyve process runs one VM, so it serves one control socket. */
static struct control *control_server;

static uint64_t control_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int control_write_all(int fd, const char *p, size_t n)
{
	uint64_t deadline = control_now_ns() + CONTROL_SEND_TIMEOUT_MS * 1000000ULL;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		uint64_t now;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return -errno;
		now = control_now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		poll(&pfd, 1, (int)((deadline - now) / 1000000ULL) + 1);
	}
	return 0;
}

/* Sends one line (and drops obj).  A client that cannot take it is closed
 * after the current request. */
static void control_send(struct control_client *c, struct json_object *obj)
{
	const char *text;
	char *line;
	size_t n;

	if (c->id)
		json_object_object_add(obj, "id", json_object_get(c->id));
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(text);
	line = malloc(n + 1);
	if (!line || c->closing) {
		c->closing = true;
	} else {
		memcpy(line, text, n);
		line[n] = '\n';
		if (control_write_all(c->fd, line, n + 1))
			c->closing = true;
	}
	free(line);
	json_object_put(obj);
}

static struct json_object *control_ok(void)
{
	struct json_object *obj = json_object_new_object();

	json_object_object_add(obj, "ok", json_object_new_boolean(1));
	return obj;
}

static void control_send_error(struct control_client *c, const char *msg)
{
	struct json_object *obj = json_object_new_object();

	json_object_object_add(obj, "ok", json_object_new_boolean(0));
	json_object_object_add(obj, "error", json_object_new_string(msg));
	control_send(c, obj);
}

/* A double with millisecond precision on the wire ("1.523", not
 * "1.5229999999999999"). */
static struct json_object *control_seconds(uint64_t ns)
{
	char text[32];

	snprintf(text, sizeof(text), "%.3f", (double)ns / 1e9);
	return json_object_new_double_s((double)ns / 1e9, text);
}

/* A pause by request shows over sleep: `resume` is what it needs first. */
static const char *control_state(const struct control *ctl)
{
	return ctl->paused ? "paused" : machine_sleeping(ctl->m) ? "sleeping" : "running";
}

static void control_cmd_status(struct control_client *c)
{
	struct control *ctl = c->ctl;
	struct machine *m = ctl->m;
	struct json_object *obj = control_ok();

	json_object_object_add(obj, "name", json_object_new_string(m->cfg.name));
	json_object_object_add(obj, "state", json_object_new_string(control_state(ctl)));
	json_object_object_add(obj, "sleeping", json_object_new_boolean(machine_sleeping(m)));
	json_object_object_add(obj, "vcpus", json_object_new_int64(m->nr_vcpus));
	json_object_object_add(obj, "memory", json_object_new_uint64(m->cfg.mem_size));
	json_object_object_add(obj, "uptime", control_seconds(control_now_ns() - ctl->started_ns));
	json_object_object_add(obj, "version", json_object_new_string(HYVE_VERSION));
	json_object_object_add(obj, "pid", json_object_new_int64(getpid()));
	control_send(c, obj);
}

static void control_cmd_pause(struct control_client *c, bool pause)
{
	struct control *ctl = c->ctl;
	struct hyve_err err = { 0 };
	struct json_object *obj;
	bool changed = ctl->paused != pause;

	if (changed && pause) {
		if (machine_pause(ctl->m, &err)) {
			char msg[sizeof(err.msg) + 32];

			snprintf(msg, sizeof(msg), "pause failed: %s", err.msg);
			control_send_error(c, msg);
			return;
		}
	} else if (changed) {
		machine_resume(ctl->m);
	}
	ctl->paused = pause;
	obj = control_ok();
	json_object_object_add(obj, "state", json_object_new_string(control_state(ctl)));
	json_object_object_add(obj, "changed", json_object_new_boolean(changed));
	if (!changed)
		json_object_object_add(obj, "message",
				       json_object_new_string(pause ? "already paused" : "already running"));
	control_send(c, obj);
}

static void control_progress(void *opaque, uint64_t done, uint64_t total)
{
	struct control_client *c = opaque;
	uint64_t now = control_now_ns();
	struct json_object *obj, *prog;

	c->progress_bytes = done;
	if (c->closing || (done < total && now - c->progress_last_ns < CONTROL_PROGRESS_INTERVAL_NS))
		return;
	c->progress_last_ns = now;
	obj = json_object_new_object();
	prog = json_object_new_object();
	json_object_object_add(prog, "bytes", json_object_new_uint64(done));
	json_object_object_add(prog, "total", json_object_new_uint64(total));
	json_object_object_add(obj, "progress", prog);
	control_send(c, obj);
}

/* checkpoint: pause, save, resume.  suspend: pause, save, and on success
 * exit with status 0 while still paused, so that the guest never runs past
 * the state in its snapshot. */
static void control_cmd_save(struct control_client *c, const struct control_request *req)
{
	bool suspend = req->cmd == CONTROL_CMD_SUSPEND;
	const char *what = control_cmd_name(req->cmd);
	struct control *ctl = c->ctl;
	struct machine *m = ctl->m;
	struct hyve_err err = { 0 };
	char msg[sizeof(err.msg) + CONTROL_PATH_MAX + 64];
	struct json_object *obj;
	uint64_t t0 = control_now_ns(), paused_ns;
	struct snap_writer *pending = NULL;
	struct vm_checkpoint_result res = { 0 };
	bool resumed;
	int ret;

	/* A live checkpoint pauses the guest itself, after its pre-copy
	 * rounds (and returns with it paused only on success). */
	ret = req->live ? 0 : machine_pause(m, &err);
	if (ret) {
		snprintf(msg, sizeof(msg), "%s: cannot pause the guest: %s", what, err.msg);
		control_send_error(c, msg);
		return;
	}
	c->progress_last_ns = 0;
	c->progress_bytes = 0;
	/* Through the page cache (HYVE_SNAPSHOT_IO=direct for O_DIRECT): a
	 * lazy restore soon after then finds the RAM file cached, where an
	 * O_DIRECT file faults in page by page from the disk
	 * (docs/performance.md). */
	if (suspend) {
		ret = vm_snapshot_save_begin(m, req->path, req->has_note ? req->note : NULL, 0, control_progress,
					     c, &pending, &err);
	} else {
		struct vm_checkpoint_opts o = {
			.path = req->path,
			.note = req->has_note ? req->note : NULL,
			.incremental_from = req->has_incremental ? req->incremental_from : NULL,
			.live = req->live,
		};

		ret = vm_checkpoint_begin(m, &o, control_progress, c, &pending, &res, &err);
	}
	/* A checkpoint's guest runs on once every byte is written (to the
	 * page cache); making the files durable needs no stopped guest. */
	resumed = ret || !suspend;
	if (resumed && !(ret && req->live))
		machine_resume(m);
	paused_ns = req->live ? res.paused_ns : control_now_ns() - t0;
	if (!ret)
		ret = suspend ? vm_snapshot_save_finish(pending, req->path, &err)
			      : vm_checkpoint_finish(pending, req->path, &err);
	if (ret == 0 && suspend)
		machine_request_exit(m, HYVE_EXIT_REBOOT, "suspended to %s", req->path);
	else if (!resumed)
		machine_resume(m);
	if (ret) {
		snprintf(msg, sizeof(msg), "%s to %s failed: %s; the guest runs on%s", what, req->path,
			 err.msg[0] ? err.msg : strerror(-ret), ctl->paused ? " (paused)" : "");
		control_send_error(c, msg);
		return;
	}
	obj = control_ok();
	json_object_object_add(obj, "path", json_object_new_string(req->path));
	/* An incremental checkpoint writes its carried pages, not all RAM. */
	json_object_object_add(obj, "bytes", json_object_new_uint64(req->has_incremental ? res.pages * 4096
										 : req->live ? m->mem.size
											     : c->progress_bytes));
	json_object_object_add(obj, "seconds", control_seconds(control_now_ns() - t0));
	json_object_object_add(obj, "paused_seconds", control_seconds(paused_ns));
	if (req->live) {
		json_object_object_add(obj, "live", json_object_new_boolean(1));
		json_object_object_add(obj, "pages", json_object_new_uint64(res.pages));
		json_object_object_add(obj, "rounds", json_object_new_int64(res.rounds));
	}
	if (req->has_incremental) {
		json_object_object_add(obj, "incremental_from", json_object_new_string(req->incremental_from));
		json_object_object_add(obj, "pages", json_object_new_uint64(res.pages));
	}
	if (suspend)
		json_object_object_add(obj, "exit_status", json_object_new_int(HYVE_EXIT_REBOOT));
	else
		json_object_object_add(obj, "state", json_object_new_string(control_state(ctl)));
	control_send(c, obj);
}

/* wake: the host's wake event for a guest in ACPI S3 (as QEMU's
 * system_wakeup): WAK_STS, and the vCPUs at the guest's waking vector. */
static void control_cmd_wake(struct control_client *c)
{
	struct control *ctl = c->ctl;
	struct hyve_err err = { 0 };
	char msg[sizeof(err.msg) + 64];
	struct json_object *obj;

	if (machine_wake(ctl->m, &err)) {
		snprintf(msg, sizeof(msg), "wake: %s (state %s)", err.msg, control_state(ctl));
		control_send_error(c, msg);
		return;
	}
	obj = control_ok();
	json_object_object_add(obj, "state", json_object_new_string(control_state(ctl)));
	control_send(c, obj);
}

/* powerdown presses the ACPI power button (as QEMU's system_powerdown): a
 * running guest that enabled PWRBTN_EN gets an SCI and shuts itself down,
 * a sleeping one wakes. */
static void control_cmd_powerdown(struct control_client *c)
{
	struct json_object *obj;
	bool was_sleeping = machine_sleeping(c->ctl->m);

	machine_power_button(c->ctl->m);
	obj = control_ok();
	json_object_object_add(obj, "state", json_object_new_string(control_state(c->ctl)));
	json_object_object_add(obj, "woke", json_object_new_boolean(was_sleeping && !machine_sleeping(c->ctl->m)));
	control_send(c, obj);
}

/* quit powers the VM off: hyve exits with status 1, as bhyve does when its
 * guest powers off (docs/control.md). */
static void control_cmd_quit(struct control_client *c)
{
	struct json_object *obj = control_ok();

	json_object_object_add(obj, "exit_status", json_object_new_int(HYVE_EXIT_POWEROFF));
	control_send(c, obj);
	machine_request_exit(c->ctl->m, HYVE_EXIT_POWEROFF, "quit requested on the control socket");
}

static void control_handle_line(struct control_client *c, const char *line, size_t len)
{
	struct control_request req;
	struct hyve_err err = { 0 };

	if (control_request_parse(line, len, &req, &err)) {
		c->id = req.id;
		control_send_error(c, err.msg);
		goto out;
	}
	c->id = req.id;
	if (atomic_load(&c->ctl->m->exit_requested)) {
		control_send_error(c, "the VM is shutting down");
		goto out;
	}
	switch (req.cmd) {
	case CONTROL_CMD_STATUS:
		control_cmd_status(c);
		break;
	case CONTROL_CMD_PAUSE:
	case CONTROL_CMD_RESUME:
		control_cmd_pause(c, req.cmd == CONTROL_CMD_PAUSE);
		break;
	case CONTROL_CMD_CHECKPOINT:
	case CONTROL_CMD_SUSPEND:
		control_cmd_save(c, &req);
		break;
	case CONTROL_CMD_QUIT:
		control_cmd_quit(c);
		break;
	case CONTROL_CMD_WAKE:
		control_cmd_wake(c);
		break;
	case CONTROL_CMD_POWERDOWN:
		control_cmd_powerdown(c);
		break;
	}
out:
	c->id = NULL;
	control_request_release(&req);
}

static void control_client_close(struct control_client *c)
{
	struct control *ctl = c->ctl;

	for (unsigned i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (ctl->clients[i] == c)
			ctl->clients[i] = NULL;
	evloop_del_fd(ctl->m->loop, c->fd);
	close(c->fd);
	free(c);
}

static void control_client_readable(void *opaque, int fd)
{
	struct control_client *c = opaque;
	struct machine *m = c->ctl->m;
	ssize_t n = read(fd, c->in.buf + c->in.len, control_linebuf_room(&c->in));
	size_t len;
	int ret;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		c->in.len += (size_t)n;
	while (!c->closing && !atomic_load(&m->exit_requested) &&
	       (ret = control_linebuf_next(&c->in, c->line, &len)) != 0) {
		if (ret < 0) {
			char msg[128];

			snprintf(msg, sizeof(msg), "request line longer than %d bytes; closing the connection",
				 CONTROL_LINE_MAX);
			control_send_error(c, msg);
			c->closing = true;
			break;
		}
		if (len > 0) /* blank lines: someone pressing Enter in socat */
			control_handle_line(c, c->line, len);
	}
	/* At end of input, an unterminated last request still counts. */
	if (n <= 0 && !c->closing && c->in.len > 0 && !atomic_load(&m->exit_requested)) {
		memcpy(c->line, c->in.buf, c->in.len);
		len = c->in.len;
		c->in.len = 0;
		control_handle_line(c, c->line, len);
	}
	if (n <= 0 || c->closing)
		control_client_close(c);
}

static void control_refuse(int fd, const char *msg)
{
	char line[256];
	int n = snprintf(line, sizeof(line), "{\"ok\":false,\"error\":\"%s\"}\n", msg);

	control_write_all(fd, line, (size_t)n);
	close(fd);
}

static void control_accept(void *opaque, int lfd)
{
	struct control *ctl = opaque;
	struct control_client *c;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	unsigned slot;
	int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* The socket's mode already keeps others out; this also covers a
	 * descriptor passed on by a process of another user. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    (cred.uid != geteuid() && cred.uid != 0)) {
		control_refuse(fd, "permission denied: only the user running hyve (or root) may control it");
		return;
	}
	for (slot = 0; slot < CONTROL_CLIENTS_MAX && ctl->clients[slot]; slot++)
		;
	c = slot < CONTROL_CLIENTS_MAX ? calloc(1, sizeof(*c)) : NULL;
	if (!c) {
		control_refuse(fd, "too many control connections; try again later");
		return;
	}
	c->ctl = ctl;
	c->fd = fd;
	if (evloop_add_fd(ctl->m->loop, fd, control_client_readable, c, NULL)) {
		free(c);
		control_refuse(fd, "hyve cannot watch more connections; try again later");
		return;
	}
	ctl->clients[slot] = c;
}

int control_start(struct machine *m, const char *path, struct hyve_err *err)
{
	struct control *ctl;
	int ret;

	if (control_server)
		return err_set(err, EBUSY, "the control socket is already being served");
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return err_set(err, ENOMEM, "control: out of memory");
	ctl->m = m;
	ctl->started_ns = control_now_ns();
	ret = control_socket_open(&ctl->sock, path, m->cfg.name, err);
	if (!ret) {
		ret = evloop_add_fd(m->loop, ctl->sock.fd, control_accept, ctl, err);
		if (ret)
			control_socket_close(&ctl->sock);
	}
	if (ret) {
		free(ctl);
		return ret;
	}
	control_server = ctl;
	return 0;
}

void control_stop(struct machine *m)
{
	struct control *ctl = control_server;

	if (!ctl || ctl->m != m)
		return;
	for (unsigned i = 0; i < CONTROL_CLIENTS_MAX; i++)
		if (ctl->clients[i])
			control_client_close(ctl->clients[i]);
	evloop_del_fd(m->loop, ctl->sock.fd);
	control_socket_close(&ctl->sock);
	control_server = NULL;
	free(ctl);
}

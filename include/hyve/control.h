/* The control channel: hyve listens on a UNIX stream socket and answers
 * one JSON object per line (docs/control.md); hyvectl(8) is its client.
 *
 * The request parser is kept apart from the server (src/core/control_proto.c)
 * so that its rejection cases can be unit-tested without a VM. */
#ifndef HYVE_CONTROL_H
#define HYVE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "hyve/err.h"

struct json_object;
struct machine;

/* A request line may hold at most this many bytes before its newline; a
 * longer one gets an error reply and the connection is closed. */
#define CONTROL_LINE_MAX 65536
#define CONTROL_PATH_MAX 4096
#define CONTROL_NOTE_MAX 1024
#define CONTROL_ID_MAX 256
/* Connections served at once; more are told so and closed. */
#define CONTROL_CLIENTS_MAX 16
/* Directory of the default sockets (root; see control_default_path). */
#define CONTROL_RUN_DIR "/run/hyve"

enum control_cmd {
	CONTROL_CMD_STATUS,
	CONTROL_CMD_PAUSE,
	CONTROL_CMD_RESUME,
	CONTROL_CMD_CHECKPOINT,
	CONTROL_CMD_SUSPEND,
	CONTROL_CMD_QUIT,
	CONTROL_CMD_WAKE,      /* a wake event for a guest in ACPI S3 */
	CONTROL_CMD_POWERDOWN, /* the ACPI power button */
};

struct control_request {
	enum control_cmd cmd;
	char path[CONTROL_PATH_MAX]; /* checkpoint, suspend: absolute */
	char note[CONTROL_NOTE_MAX]; /* checkpoint: optional */
	bool has_note;
	/* checkpoint: "incremental_from" (absolute; the previous checkpoint)
	 * and "live" (pre-copy while the guest runs). */
	char incremental_from[CONTROL_PATH_MAX];
	bool has_incremental;
	bool live;
	/* The request's "id" (a string or an integer), echoed in every line
	 * answering it; NULL if none.  Set even when parsing fails later, so
	 * that the error reply carries it too. */
	struct json_object *id;
};

/* Parses and validates one request line (without its newline).  Returns 0,
 * or a negative errno with err saying what is wrong in words a person at
 * socat can act on.  Call control_request_release afterwards either way. */
int control_request_parse(const char *line, size_t len, struct control_request *req,
			  struct hyve_err *err);
void control_request_release(struct control_request *req);
const char *control_cmd_name(enum control_cmd cmd);

/* Splits a byte stream into lines of at most CONTROL_LINE_MAX bytes. */
struct control_linebuf {
	char buf[CONTROL_LINE_MAX + 1];
	size_t len;
};

/* Space left for the next read. */
static inline size_t control_linebuf_room(const struct control_linebuf *lb)
{
	return sizeof(lb->buf) - lb->len;
}

/* Takes the next complete line out of the buffer into out (NUL-terminated,
 * without "\n" or a trailing "\r"; out must hold CONTROL_LINE_MAX + 1
 * bytes).  Returns 1 with a line, 0 if none is complete yet, or -EMSGSIZE
 * once the buffer holds more than CONTROL_LINE_MAX bytes with no newline. */
int control_linebuf_next(struct control_linebuf *lb, char *out, size_t *out_len);

/* The socket hyve listens on and hyvectl --vm=NAME talks to:
 * /run/hyve/NAME.sock for root; for other users $XDG_RUNTIME_DIR/hyve/NAME.sock
 * when that variable is set (/run/hyve is root's), else /run/hyve too. */
int control_default_path(const char *name, char *buf, size_t size, struct hyve_err *err);

/* Creates the socket (path NULL or "" = the default for the VM's name) and
 * serves it on the machine's event loop.  Refuses a directory others can
 * enter or another uid owns, and a socket a live hyve answers on ("VM NAME
 * is already running"); replaces a stale one.  One server per process. */
int control_start(struct machine *m, const char *path, struct hyve_err *err);
/* Closes every connection and removes the socket file.  Safe to call when
 * control_start failed or was never called. */
void control_stop(struct machine *m);

#endif

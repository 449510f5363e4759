/* Between the control server (control.c) and its socket file
 * (control_socket.c). */
#ifndef HYVE_CORE_CONTROL_INTERNAL_H
#define HYVE_CORE_CONTROL_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/un.h>

#include "hyve/err.h"

struct control_socket {
	int fd; /* listening, non-blocking */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool default_path; /* no --control: the path names the VM */
	dev_t dev;         /* the file we bound, so that we only ever */
	ino_t ino;         /* remove our own */
};

/* Resolves `path` (NULL or "" = the default for vm_name), prepares its
 * directory, replaces a stale socket or refuses a live one, and listens. */
int control_socket_open(struct control_socket *s, const char *path, const char *vm_name,
			struct hyve_err *err);
/* Closes the socket and removes the file if it is still ours. */
void control_socket_close(struct control_socket *s);

#endif

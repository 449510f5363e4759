/* The main thread's event loop: epoll over the control socket, console
 * input, device timers (timerfd) and backend completions. */
#ifndef HYVE_EVLOOP_H
#define HYVE_EVLOOP_H

#include <stdbool.h>

#include "hyve/err.h"

struct evloop;

/* Called on the main thread when fd is readable (or hung up). */
typedef void (*evloop_fn)(void *opaque, int fd);

struct evloop *evloop_new(struct hyve_err *err);
void evloop_free(struct evloop *loop);
/* Thread-safe. */
int evloop_add_fd(struct evloop *loop, int fd, evloop_fn fn, void *opaque, struct hyve_err *err);
void evloop_del_fd(struct evloop *loop, int fd);
/* Runs until evloop_stop(); returns 0 or a negative errno. */
int evloop_run(struct evloop *loop);
/* Thread-safe (and async-signal-safe): makes evloop_run return. */
void evloop_stop(struct evloop *loop);
bool evloop_stopping(const struct evloop *loop);

#endif

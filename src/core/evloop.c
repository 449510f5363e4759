/* epoll-based event loop.  Registrations are kept in a small table; a
 * handler is looked up by its fd each time it fires so that a handler may
 * remove itself (or another) safely. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hyve/evloop.h"

#define EVLOOP_MAX_FDS 256

struct evloop_entry {
	int fd; /* -1 when free */
	evloop_fn fn;
	void *opaque;
};

struct evloop {
	int epfd;
	int wakefd;
	atomic_bool stop;
	pthread_mutex_t lock;
	struct evloop_entry entries[EVLOOP_MAX_FDS];
};

struct evloop *evloop_new(struct hyve_err *err)
{
	struct evloop *loop = calloc(1, sizeof(*loop));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!loop) {
		err_set(err, ENOMEM, "event loop: out of memory");
		return NULL;
	}
	for (unsigned i = 0; i < EVLOOP_MAX_FDS; i++)
		loop->entries[i].fd = -1;
	pthread_mutex_init(&loop->lock, NULL);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ev.data.fd = loop->wakefd;
	if (loop->epfd < 0 || loop->wakefd < 0 ||
	    epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wakefd, &ev) < 0) {
		err_set(err, errno, "event loop: %s", strerror(errno));
		evloop_free(loop);
		return NULL;
	}
	return loop;
}

void evloop_free(struct evloop *loop)
{
	if (!loop)
		return;
	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->wakefd >= 0)
		close(loop->wakefd);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}

int evloop_add_fd(struct evloop *loop, int fd, evloop_fn fn, void *opaque, struct hyve_err *err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	int ret = -ENOSPC;

	pthread_mutex_lock(&loop->lock);
	for (unsigned i = 0; i < EVLOOP_MAX_FDS; i++) {
		if (loop->entries[i].fd == -1) {
			loop->entries[i] = (struct evloop_entry){ fd, fn, opaque };
			ret = 0;
			break;
		}
	}
	if (ret == 0 && epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = -errno;
		for (unsigned i = 0; i < EVLOOP_MAX_FDS; i++)
			if (loop->entries[i].fd == fd)
				loop->entries[i].fd = -1;
	}
	pthread_mutex_unlock(&loop->lock);
	if (ret)
		return err_set(err, -ret, "event loop: cannot watch fd %d: %s", fd, strerror(-ret));
	return 0;
}

void evloop_del_fd(struct evloop *loop, int fd)
{
	pthread_mutex_lock(&loop->lock);
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	for (unsigned i = 0; i < EVLOOP_MAX_FDS; i++)
		if (loop->entries[i].fd == fd)
			loop->entries[i].fd = -1;
	pthread_mutex_unlock(&loop->lock);
}

static bool evloop_lookup(struct evloop *loop, int fd, struct evloop_entry *out)
{
	bool found = false;

	pthread_mutex_lock(&loop->lock);
	for (unsigned i = 0; i < EVLOOP_MAX_FDS; i++) {
		if (loop->entries[i].fd == fd) {
			*out = loop->entries[i];
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&loop->lock);
	return found;
}

int evloop_run(struct evloop *loop)
{
	struct epoll_event events[32];

	while (!atomic_load(&loop->stop)) {
		int n = epoll_wait(loop->epfd, events, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !atomic_load(&loop->stop); i++) {
			struct evloop_entry e;

			if (events[i].data.fd == loop->wakefd) {
				uint64_t v;

				if (read(loop->wakefd, &v, sizeof(v)) < 0) {
					/* EAGAIN: already drained */
				}
				continue;
			}
			if (evloop_lookup(loop, events[i].data.fd, &e))
				e.fn(e.opaque, e.fd);
		}
	}
	return 0;
}

void evloop_stop(struct evloop *loop)
{
	uint64_t one = 1;

	atomic_store(&loop->stop, true);
	if (write(loop->wakefd, &one, sizeof(one)) < 0) {
		/* counter full: the loop is being woken anyway */
	}
}

bool evloop_stopping(const struct evloop *loop)
{
	return atomic_load(&loop->stop);
}

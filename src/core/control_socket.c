/* The control socket's file: where it lives, who may reach it, and what to
 * do with one that is already there.  The directory is the real fence
 * (mode 0700, ours); the socket is also born 0600. */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/control_internal.h"
#include "hyve/control.h"

/* Created 0700 if missing (one level); otherwise it must be ours and closed
 * to everyone else.  Returns an open fd of the directory or -errno. */
static int control_socket_dir(const char *dir, struct hyve_err *err)
{
	struct stat st;
	int fd;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_set(err, errno, "cannot create control directory %s: %s (choose another with --control PATH)",
			       dir, strerror(errno));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, errno, "cannot open control directory %s: %s", dir, strerror(errno));
	if (fstat(fd, &st) < 0) {
		close(fd);
		return err_set(err, errno, "control directory %s: %s", dir, strerror(errno));
	}
	if (st.st_uid != geteuid()) {
		close(fd);
		return err_set(err, EPERM, "control directory %s belongs to uid %u, not to uid %u running hyve; "
					   "refusing to put the control socket there (choose another with --control PATH)",
			       dir, (unsigned)st.st_uid, (unsigned)geteuid());
	}
	if (st.st_mode & 077) {
		close(fd);
		return err_set(err, EPERM, "control directory %s is mode %04o: other users can enter it; it must be "
					   "0700 (chmod 700 %s, or choose another with --control PATH)",
			       dir, (unsigned)(st.st_mode & 07777), dir);
	}
	return fd;
}

/* Returns 1 if a process accepts connections on the socket, 0 if nothing
 * listens (a stale file from a hyve that died), or -errno. */
static int control_socket_probe(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int ret;

	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (ret == 0 || errno == EAGAIN || errno == EINPROGRESS)
		ret = 1; /* EAGAIN: a full backlog is still a live listener */
	else
		ret = errno == ECONNREFUSED ? 0 : -errno;
	close(fd);
	return ret;
}

static int control_socket_bind(struct control_socket *s, const char *vm_name, struct hyve_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old_mask;
	int ret;

	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	if (lstat(s->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return err_set(err, EEXIST, "%s exists and is not a socket; refusing to replace it", s->path);
		ret = control_socket_probe(&sa);
		if (ret > 0 && s->default_path)
			return err_set(err, EADDRINUSE, "VM %s is already running (a hyve answers on %s)", vm_name,
				       s->path);
		if (ret > 0)
			return err_set(err, EADDRINUSE, "a hyve is already running on %s (pick another --control)",
				       s->path);
		if (ret < 0)
			return err_set(err, -ret, "cannot check the existing socket %s: %s", s->path, strerror(-ret));
		if (unlink(s->path) < 0 && errno != ENOENT)
			return err_set(err, errno, "cannot remove the stale socket %s: %s", s->path, strerror(errno));
	} else if (errno != ENOENT) {
		return err_set(err, errno, "%s: %s", s->path, strerror(errno));
	}
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return err_set(err, errno, "control socket: %s", strerror(errno));
	/* Born 0600: no window in which another user could connect. */
	old_mask = umask(0177);
	ret = bind(s->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_mask);
	if (ret < 0)
		return err_set(err, errno, "cannot bind control socket %s: %s", s->path, strerror(errno));
	if (stat(s->path, &st) == 0) {
		s->dev = st.st_dev;
		s->ino = st.st_ino;
	}
	if (listen(s->fd, CONTROL_CLIENTS_MAX) < 0)
		return err_set(err, errno, "cannot listen on %s: %s", s->path, strerror(errno));
	return 0;
}

static int control_socket_resolve(struct control_socket *s, const char *path, const char *vm_name,
				  struct hyve_err *err)
{
	char given[CONTROL_PATH_MAX], cwd[CONTROL_PATH_MAX];
	int n, ret;

	if (!path || !path[0]) {
		s->default_path = true;
		ret = control_default_path(vm_name, given, sizeof(given), err);
		if (ret)
			return ret;
	} else if (snprintf(given, sizeof(given), "%s", path) >= (int)sizeof(given)) {
		return err_set(err, ENAMETOOLONG, "--control path is too long");
	}
	/* Absolute, so that removing it at exit does not depend on the
	 * working directory. */
	if (given[0] == '/') {
		n = snprintf(s->path, sizeof(s->path), "%s", given);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return err_set(err, errno, "--control %s: cannot resolve: %s", given, strerror(errno));
		n = snprintf(s->path, sizeof(s->path), "%s/%s", cwd, given);
	}
	if (n < 0 || (size_t)n >= sizeof(s->path))
		return err_set(err, ENAMETOOLONG, "control socket path %s is longer than a UNIX socket allows (%zu bytes)",
			       given, sizeof(s->path) - 1);
	if (s->path[n - 1] == '/')
		return err_set(err, EISDIR, "control socket path %s names a directory", s->path);
	return 0;
}

int control_socket_open(struct control_socket *s, const char *path, const char *vm_name, struct hyve_err *err)
{
	char dir[sizeof(s->path)];
	int dir_fd, ret;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	ret = control_socket_resolve(s, path, vm_name, err);
	if (ret)
		return ret;
	memcpy(dir, s->path, sizeof(dir));
	dir_fd = control_socket_dir(dirname(dir), err);
	if (dir_fd < 0)
		return dir_fd;
	/* Two hyves starting with one name must not both find the old socket
	 * stale and replace each other's: check and bind under one lock. */
	if (flock(dir_fd, LOCK_EX) < 0)
		ret = err_set(err, errno, "cannot lock %s: %s", dir, strerror(errno));
	else
		ret = control_socket_bind(s, vm_name, err);
	close(dir_fd);
	if (ret)
		control_socket_close(s);
	return ret;
}

void control_socket_close(struct control_socket *s)
{
	struct stat st;

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	/* Only our own socket: never one a later hyve bound at the path. */
	if (s->ino && stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path);
	s->ino = 0;
}

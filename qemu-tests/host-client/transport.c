/* SPDX-License-Identifier: MIT */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "lcow/cleanup.h"

int transport_port_path(const char *base, uint32_t port, char **out, struct error *err)
{
	if (asprintf(out, "%s_%" PRIu32, base, port) < 0)
		return error_set(err, ENOMEM, "socket path");
	return 0;
}

static int fill_sun(struct sockaddr_un *sun, const char *path, struct error *err)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return error_setx(err, ENAMETOOLONG, "socket path `%s` is longer than %zu bytes",
				  path, sizeof(sun->sun_path) - 1);
	strcpy(sun->sun_path, path);
	return 0;
}

int unix_connect(const char *path, int *fd_out, struct error *err)
{
	struct sockaddr_un sun;
	int r = fill_sun(&sun, path, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, errno, "socket");
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		if (errno != EINTR)
			return error_set(err, errno, "connect to %s", path);
	}
	*fd_out = TAKE_FD(fd);
	return 0;
}

int unix_listen(const char *path, int *fd_out, struct error *err)
{
	struct sockaddr_un sun;
	int r = fill_sun(&sun, path, err);
	if (r < 0)
		return r;

	struct stat st;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return error_setx(err, EEXIST, "%s exists and is not a socket", path);
		/* Only a socket nobody listens on may be replaced. */
		int probe;
		struct error ignored = {0};
		if (unix_connect(path, &probe, &ignored) == 0) {
			close(probe);
			return error_setx(err, EADDRINUSE, "%s is in use by a running process",
					  path);
		}
		if (unlink(path) < 0 && errno != ENOENT)
			return error_set(err, errno, "remove stale socket %s", path);
	}

	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return error_set(err, errno, "socket");
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return error_set(err, errno, "bind %s", path);
	if (listen(fd, 64) < 0) {
		r = error_set(err, errno, "listen on %s", path);
		unlink(path);
		return r;
	}
	*fd_out = TAKE_FD(fd);
	return 0;
}

static int vsock_listen(uint32_t port, int *fd_out, struct error *err)
{
	_cleanup_close_ int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return error_set(err, errno, "AF_VSOCK socket (is vhost_vsock loaded?)");
	struct sockaddr_vm addr = {
	    .svm_family = AF_VSOCK,
	    .svm_cid = VMADDR_CID_ANY,
	    .svm_port = port,
	};
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return error_set(err, errno, "bind vsock port %" PRIu32, port);
	if (listen(fd, 64) < 0)
		return error_set(err, errno, "listen on vsock port %" PRIu32, port);
	*fd_out = TAKE_FD(fd);
	return 0;
}

int transport_listen(const struct transport *t, uint32_t port, int *fd_out, char **path_out,
		     struct error *err)
{
	*path_out = NULL;
	if (t->vsock)
		return vsock_listen(port, fd_out, err);

	_cleanup_free_ char *path = NULL;
	int r = transport_port_path(t->base, port, &path, err);
	if (r < 0)
		return r;
	r = unix_listen(path, fd_out, err);
	if (r < 0)
		return r;
	*path_out = TAKE_PTR(path);
	return 0;
}

int accept_conn(int listen_fd, int *fd_out, struct error *err)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd >= 0) {
			*fd_out = fd;
			return 0;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EAGAIN)
			return -EAGAIN;
		return error_set(err, errno, "accept");
	}
}

int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	int nfl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	if (nfl != fl && fcntl(fd, F_SETFL, nfl) < 0)
		return -errno;
	return 0;
}

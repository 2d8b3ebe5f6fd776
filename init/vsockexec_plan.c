/* SPDX-License-Identifier: MIT */
#include "vsockexec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vsock.h"

static const char opt_letters[VSOCKEXEC_STREAMS] = { 'i', 'o', 'e' };
static const char *const stream_names[VSOCKEXEC_STREAMS] = { "stdin", "stdout", "stderr" };

int vsockexec_parse(struct vsockexec_args *a, int argc, char **argv, struct error *err)
{
	int i = 1;

	memset(a, 0, sizeof(*a));
	while (i < argc) {
		const char *w = argv[i];

		if (strcmp(w, "--") == 0) {
			i++;
			break;
		}
		if (w[0] != '-' || w[1] == '\0')
			break;

		const char *hit = memchr(opt_letters, w[1], sizeof(opt_letters));
		if (!hit)
			return error_setx(err, EINVAL, "unknown option `%s'", w);
		int s = (int)(hit - opt_letters);
		const char *value = w[2] ? w + 2 : (i + 1 < argc ? argv[i + 1] : NULL);
		if (!value)
			return error_setx(err, EINVAL, "-%c needs a port", w[1]);
		i += w[2] ? 1 : 2;
		if (a->has_port[s])
			return error_setx(err, EINVAL, "-%c given twice", w[1]);
		int r = vsock_port_parse(value, &a->port[s]);
		if (r < 0)
			return error_setx(err, EINVAL, "-%c: bad port `%s' (%s)", w[1], value,
					  r == -ERANGE ? "out of range" : "not a number");
		a->has_port[s] = true;
	}
	if (i >= argc || !argv[i][0])
		return error_setx(err, EINVAL, "no program given");
	a->argv = &argv[i];
	return 0;
}

void vsockexec_make_plan(const struct vsockexec_args *a, struct vsockexec_plan *p)
{
	memset(p, 0, sizeof(*p));
	for (int s = 0; s < VSOCKEXEC_STREAMS; s++) {
		p->stream_conn[s] = -1;
		if (!a->has_port[s])
			continue;
		unsigned k;
		for (k = 0; k < p->n_conns; k++)
			if (p->conn_port[k] == a->port[s])
				break;
		if (k == p->n_conns)
			p->conn_port[p->n_conns++] = a->port[s];
		p->stream_conn[s] = (int)k;
	}
}

void vsockexec_conn_streams(const struct vsockexec_plan *p, unsigned conn, char *buf,
			    size_t size)
{
	const char *names[VSOCKEXEC_STREAMS];
	size_t n = 0;

	for (int s = 0; s < VSOCKEXEC_STREAMS; s++)
		if (p->stream_conn[s] == (int)conn)
			names[n++] = stream_names[s];
	if (n == 0)
		snprintf(buf, size, "nothing");
	else if (n == 1)
		snprintf(buf, size, "%s", names[0]);
	else if (n == 2)
		snprintf(buf, size, "%s and %s", names[0], names[1]);
	else
		snprintf(buf, size, "%s, %s and %s", names[0], names[1], names[2]);
}

static void close_all(int conn_fd[VSOCKEXEC_STREAMS])
{
	for (int k = 0; k < VSOCKEXEC_STREAMS; k++) {
		if (conn_fd[k] >= 0)
			close(conn_fd[k]);
		conn_fd[k] = -1;
	}
}

int vsockexec_apply(const struct vsockexec_plan *p, int conn_fd[VSOCKEXEC_STREAMS],
		    struct error *err)
{
	int r = 0;

	/* A socket made while one of 0..2 was closed sits in that slot; move
	 * it up first, or a dup3() onto that slot would close it before its
	 * own streams got it.  The slot was free before: closing it restores
	 * that. */
	for (unsigned k = 0; k < p->n_conns; k++) {
		if (conn_fd[k] < 0 || conn_fd[k] > 2)
			continue;
		int fd = fcntl(conn_fd[k], F_DUPFD_CLOEXEC, 3);
		if (fd < 0) {
			r = error_set(err, errno, "move connection to port %u", p->conn_port[k]);
			goto out;
		}
		close(conn_fd[k]);
		conn_fd[k] = fd;
	}
	for (int s = 0; s < VSOCKEXEC_STREAMS; s++) {
		int k = p->stream_conn[s];
		if (k < 0 || conn_fd[k] < 0)
			continue;
		/* dup3 with no flags: the copy on 0..2 survives exec, while
		 * the original keeps its SOCK_CLOEXEC and is closed below. */
		if (dup3(conn_fd[k], s, 0) < 0) {
			r = error_set(err, errno, "connect %s to port %u", stream_names[s],
				      p->conn_port[k]);
			goto out;
		}
	}
out:
	close_all(conn_fd);
	return r;
}

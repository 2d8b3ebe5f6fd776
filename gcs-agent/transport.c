/* SPDX-License-Identifier: MIT */
#include "transport.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/vm_sockets.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "log.h"

/* While the host is away, say so now and then, not ten times a second. */
#define RETRY_LOG_EVERY 100

int dialer_connect(const struct dialer *d, bool *in_progress, struct error *err)
{
	_cleanup_close_ int fd =
		socket(d->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_set(err, errno, "socket for %s", d->name);
	*in_progress = false;
	if (connect(fd, (const struct sockaddr *)&d->addr, d->addrlen) < 0) {
		if (errno != EINPROGRESS)
			return error_set(err, errno, "connect to %s", d->name);
		*in_progress = true;
	}
	return TAKE_FD(fd);
}

void dialer_vsock(struct dialer *d, uint32_t cid, uint32_t port)
{
	memset(d, 0, sizeof(*d));
	struct sockaddr_vm *vm = (struct sockaddr_vm *)&d->addr;
	vm->svm_family = AF_VSOCK;
	vm->svm_cid = cid;
	vm->svm_port = port;
	d->addrlen = sizeof(*vm);
	d->dial = dialer_connect;
	snprintf(d->name, sizeof(d->name), "vsock:%" PRIu32 ":0x%" PRIx32, cid, port);
}

int dialer_unix(struct dialer *d, const char *path, struct error *err)
{
	memset(d, 0, sizeof(*d));
	struct sockaddr_un *un = (struct sockaddr_un *)&d->addr;
	if (strlen(path) >= sizeof(un->sun_path))
		return error_setx(err, ENAMETOOLONG, "unix socket path too long: %s", path);
	un->sun_family = AF_UNIX;
	strcpy(un->sun_path, path);
	d->addrlen = sizeof(*un);
	d->dial = dialer_connect;
	snprintf(d->name, sizeof(d->name), "unix:%s", path);
	return 0;
}

static void dial(struct transport *t);

static void retry_fired(struct loop_timer *timer)
{
	struct transport *t = timer->data;
	if (t->state == TRANSPORT_WAITING)
		dial(t);
}

static void schedule_retry(struct transport *t)
{
	struct error err = { 0 };
	t->state = TRANSPORT_WAITING;
	if (loop_timer_arm(&t->retry, t->retry_ms, &err) < 0) {
		/* Without a timer there is no way back to the host. */
		log_error("cannot arm the bridge re-dial timer", LOG_ERR(&err));
		loop_quit(t->loop, 1);
	}
}

static void dial_failed(struct transport *t, const struct error *err)
{
	t->stats.failures++;
	t->failures_in_row++;
	t->last_error = *err;
	if (t->failures_in_row == 1)
		log_warning("bridge dial failed, retrying", LOG_STR("peer", t->dialer.name),
			    LOG_U64("retry_ms", t->retry_ms), LOG_ERR(err));
	else if (t->failures_in_row % RETRY_LOG_EVERY == 0)
		log_info("still dialing the bridge", LOG_STR("peer", t->dialer.name),
			 LOG_U64("attempts", t->failures_in_row), LOG_ERR(err));
	else
		log_trace("bridge dial failed", LOG_ERR(err));
	schedule_retry(t);
}

static void established(struct transport *t, int fd)
{
	t->state = TRANSPORT_CONNECTED;
	t->stats.connects++;
	if (t->failures_in_row)
		log_info("bridge dial succeeded", LOG_STR("peer", t->dialer.name),
			 LOG_U64("failed_attempts", t->failures_in_row));
	t->failures_in_row = 0;
	t->connected(t->ctx, fd);
}

static void connect_done(struct loop_source *src, uint32_t events)
{
	(void)events;
	struct transport *t = src->data;
	int fd = t->connecting_fd;
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	loop_remove(&t->connecting);
	t->connecting_fd = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (soerr) {
		struct error err = { 0 };
		error_set(&err, soerr, "connect to %s", t->dialer.name);
		close(fd);
		dial_failed(t, &err);
		return;
	}
	established(t, fd);
}

static void dial(struct transport *t)
{
	struct error err = { 0 };
	bool in_progress = false;
	t->stats.dials++;
	int fd = t->dialer.dial(&t->dialer, &in_progress, &err);
	if (fd < 0) {
		dial_failed(t, &err);
		return;
	}
	if (!in_progress) {
		established(t, fd);
		return;
	}
	if (loop_add(t->loop, &t->connecting, fd, EPOLLOUT, connect_done, t, &err) < 0) {
		close(fd);
		dial_failed(t, &err);
		return;
	}
	t->connecting_fd = fd;
	t->state = TRANSPORT_CONNECTING;
}

int transport_init(struct transport *t, struct loop *l, const struct dialer *d, unsigned retry_ms,
		   void (*connected)(void *ctx, int fd), void *ctx, struct error *err)
{
	memset(t, 0, sizeof(*t));
	t->loop = l;
	t->dialer = *d;
	t->retry_ms = retry_ms;
	t->connected = connected;
	t->ctx = ctx;
	t->connecting_fd = -1;
	return loop_timer_init(l, &t->retry, retry_fired, t, err);
}

void transport_fini(struct transport *t)
{
	if (t->connecting_fd >= 0) {
		loop_remove(&t->connecting);
		close(t->connecting_fd);
		t->connecting_fd = -1;
	}
	loop_timer_fini(&t->retry);
	t->state = TRANSPORT_IDLE;
}

void transport_start(struct transport *t)
{
	if (t->state == TRANSPORT_IDLE || t->state == TRANSPORT_WAITING) {
		loop_timer_disarm(&t->retry);
		dial(t);
	}
}

void transport_lost(struct transport *t)
{
	if (t->state != TRANSPORT_CONNECTED)
		return;
	t->stats.disconnects++;
	schedule_retry(t);
}

void transport_describe(const struct transport *t, FILE *out)
{
	static const char *const names[] = {
		[TRANSPORT_IDLE] = "idle",
		[TRANSPORT_CONNECTING] = "connecting",
		[TRANSPORT_CONNECTED] = "connected",
		[TRANSPORT_WAITING] = "waiting to re-dial",
	};
	fprintf(out,
		"transport: %s, %s; dials %" PRIu64 " (failed %" PRIu64 "), connections %" PRIu64
		", disconnects %" PRIu64 "\n",
		t->dialer.name, names[t->state], t->stats.dials, t->stats.failures,
		t->stats.connects, t->stats.disconnects);
	if (t->failures_in_row)
		fprintf(out, "  last dial error: %s\n", error_text(&t->last_error));
}

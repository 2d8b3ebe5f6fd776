/* SPDX-License-Identifier: MIT */
#include "lcow/outfile.h"
#include "lcow/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp_path[PATH_MAX];
static volatile sig_atomic_t tmp_armed;
static const int cleanup_signals[] = { SIGINT, SIGTERM, SIGHUP };

static void on_signal(int sig)
{
	if (tmp_armed)
		unlink(tmp_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Arming and disarming happen with the signals blocked, so the handler
 * never sees a path that is being written or already renamed. */
static void block_cleanup_signals(int how)
{
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(cleanup_signals); i++)
		sigaddset(&set, cleanup_signals[i]);
	sigprocmask(how, &set, NULL);
}

void outfile_handle_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(cleanup_signals); i++)
		sigaction(cleanup_signals[i], &sa, NULL);
}

int outfile_create(const char *output, struct error *err)
{
	_cleanup_free_ char *dcopy = strdup(output);
	_cleanup_free_ char *bcopy = strdup(output);
	if (!dcopy || !bcopy)
		return error_set(err, ENOMEM, "copy output name");
	const char *dir = dirname(dcopy), *base = basename(bcopy);
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/.%s.XXXXXX", dir, base);
	if (n < 0 || (size_t)n >= sizeof(path))
		return error_setx(err, ENAMETOOLONG, "output name `%s` too long", output);

	block_cleanup_signals(SIG_BLOCK);
	memcpy(tmp_path, path, (size_t)n + 1);
	int fd = mkostemp(tmp_path, O_CLOEXEC);
	if (fd >= 0)
		tmp_armed = 1;
	block_cleanup_signals(SIG_UNBLOCK);
	if (fd < 0)
		return error_set(err, errno, "create temporary file in `%s`", dir);
	return fd;
}

const char *outfile_tmp_path(void)
{
	return tmp_path;
}

int outfile_commit(int fd, const char *output, int r, struct error *err)
{
	mode_t mask = umask(0);
	umask(mask);

	if (r >= 0 && fchmod(fd, 0666 & ~mask) < 0)
		r = error_set(err, errno, "chmod `%s`", tmp_path);
	if (r >= 0 && fsync(fd) < 0)
		r = error_set(err, errno, "sync `%s`", tmp_path);
	if (close(fd) < 0 && r >= 0)
		r = error_set(err, errno, "close `%s`", tmp_path);

	block_cleanup_signals(SIG_BLOCK);
	if (r >= 0 && rename(tmp_path, output) < 0)
		r = error_set(err, errno, "rename `%s` to `%s`", tmp_path, output);
	if (r < 0)
		unlink(tmp_path);
	tmp_armed = 0;
	block_cleanup_signals(SIG_UNBLOCK);
	return r;
}

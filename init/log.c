/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The one piece of global state in init: a logger needs no owner. */
static int kmsg_fd = -1;

int log_open(void)
{
	if (kmsg_fd >= 0)
		return 0;
	int fd = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	kmsg_fd = fd;
	return 0;
}

int log_fd(void)
{
	return kmsg_fd;
}

void log_msg(int level, const char *fmt, ...)
{
	/* /dev/kmsg takes at most ~1 KiB per record; one write() is one record. */
	char line[1024];
	int saved = errno;
	int n;

	if (kmsg_fd >= 0)
		n = snprintf(line, sizeof(line), "<%d>init: ", level);
	else
		n = snprintf(line, sizeof(line), "init: ");
	if (n < 0)
		goto out;

	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0)
		goto out;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';

	/* Best effort: there is nowhere left to report a failed log write. */
	if (write(kmsg_fd >= 0 ? kmsg_fd : STDERR_FILENO, line, len) < 0)
		goto out;
out:
	errno = saved;
}

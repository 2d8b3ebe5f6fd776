/* SPDX-License-Identifier: MIT */
#include "lcow/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int vset(struct error *err, int errnum, int with_strerror, const char *fmt, va_list ap)
{
	if (errnum <= 0)
		errnum = EINVAL;
	if (err) {
		int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		if (with_strerror && n >= 0 && (size_t)n < sizeof(err->msg))
			snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(errnum));
		err->errnum = errnum;
	}
	return -errnum;
}

int error_set(struct error *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vset(err, errnum, errnum > 0, fmt, ap);
	va_end(ap);
	return r;
}

int error_setx(struct error *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vset(err, errnum, 0, fmt, ap);
	va_end(ap);
	return r;
}

int error_prefix(struct error *err, int r, const char *fmt, ...)
{
	if (!err)
		return r;
	if (!err->msg[0])
		snprintf(err->msg, sizeof(err->msg), "%s", strerror(r < 0 ? -r : EINVAL));
	if (!err->errnum)
		err->errnum = r < 0 ? -r : EINVAL;

	char prefix[ERROR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(prefix, sizeof(prefix) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return r;
	size_t plen = strnlen(prefix, sizeof(prefix) - 3);
	memcpy(prefix + plen, ": ", 3);
	plen += 2;

	/* Shift the old text right by plen (truncating its tail), then put the
	 * prefix in front. */
	size_t cap = sizeof(err->msg) - 1;
	size_t old = strlen(err->msg);
	if (plen >= cap) {
		memcpy(err->msg, prefix, cap);
	} else {
		size_t keep = old < cap - plen ? old : cap - plen;
		memmove(err->msg + plen, err->msg, keep);
		memcpy(err->msg, prefix, plen);
		err->msg[plen + keep] = '\0';
	}
	err->msg[cap] = '\0';
	return r;
}

const char *error_text(const struct error *err)
{
	if (!err)
		return "unknown error";
	if (err->msg[0])
		return err->msg;
	return strerror(err->errnum ? err->errnum : EINVAL);
}

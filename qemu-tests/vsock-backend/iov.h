/* SPDX-License-Identifier: MIT */
/* Scatter-gather helpers over struct iovec arrays. */
#ifndef VSOCKD_IOV_H
#define VSOCKD_IOV_H

#include <stddef.h>
#include <sys/uio.h>

size_t iov_total(const struct iovec *iov, unsigned n);

/* Copy up to len bytes starting at byte offset off of iov into buf; returns
 * the number copied (less than len when iov is shorter). */
size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);

/* Copy up to len bytes from buf into iov at byte offset off. */
size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len);

/* Describe bytes [off, off + len) of iov in out[] (at most max entries);
 * returns the number of entries.  The slice is shorter than len when iov is
 * or when max entries do not suffice. */
unsigned iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len, struct iovec *out,
		   unsigned max);

#endif

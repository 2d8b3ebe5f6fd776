/* SPDX-License-Identifier: MIT */
#include "iov.h"

#include <string.h>

size_t iov_total(const struct iovec *iov, unsigned n)
{
	size_t t = 0;
	for (unsigned i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

size_t iov_to_buf(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		memcpy((char *)buf + done, (char *)iov[i].iov_base + off, k);
		done += k;
		off = 0;
	}
	return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len)
{
	size_t done = 0;
	for (unsigned i = 0; i < n && done < len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t k = iov[i].iov_len - off;
		if (k > len - done)
			k = len - done;
		memcpy((char *)iov[i].iov_base + off, (const char *)buf + done, k);
		done += k;
		off = 0;
	}
	return done;
}

unsigned iov_slice(const struct iovec *iov, unsigned n, size_t off, size_t len, struct iovec *out,
		   unsigned max)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n && len > 0 && k < max; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		size_t seg = iov[i].iov_len - off;
		if (seg > len)
			seg = len;
		out[k].iov_base = (char *)iov[i].iov_base + off;
		out[k].iov_len = seg;
		k++;
		len -= seg;
		off = 0;
	}
	return k;
}

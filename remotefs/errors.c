/* SPDX-License-Identifier: MIT */
/* Errors in the form opengcs's remotefs gave them to the host. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "rfs.h"

/* Go's syscall error strings on Linux.  The host matches some of them, and
 * the text must not depend on the C library (musl words them differently). */
static const struct {
	int errnum;
	const char *text;
} go_errors[] = {
	{ EPERM, "operation not permitted" },
	{ ENOENT, "no such file or directory" },
	{ EINTR, "interrupted system call" },
	{ EIO, "input/output error" },
	{ ENXIO, "no such device or address" },
	{ E2BIG, "argument list too long" },
	{ EBADF, "bad file descriptor" },
	{ EAGAIN, "resource temporarily unavailable" },
	{ ENOMEM, "cannot allocate memory" },
	{ EACCES, "permission denied" },
	{ EBUSY, "device or resource busy" },
	{ EEXIST, "file exists" },
	{ EXDEV, "invalid cross-device link" },
	{ ENODEV, "no such device" },
	{ ENOTDIR, "not a directory" },
	{ EISDIR, "is a directory" },
	{ EINVAL, "invalid argument" },
	{ ENFILE, "too many open files in system" },
	{ EMFILE, "too many open files" },
	{ ETXTBSY, "text file busy" },
	{ EFBIG, "file too large" },
	{ ENOSPC, "no space left on device" },
	{ ESPIPE, "illegal seek" },
	{ EROFS, "read-only file system" },
	{ EMLINK, "too many links" },
	{ EPIPE, "broken pipe" },
	{ ERANGE, "numerical result out of range" },
	{ ENAMETOOLONG, "file name too long" },
	{ ENOSYS, "function not implemented" },
	{ ENOTEMPTY, "directory not empty" },
	{ ELOOP, "too many levels of symbolic links" },
	{ ENODATA, "no data available" },
	{ EOVERFLOW, "value too large for defined data type" },
	{ EILSEQ, "invalid or incomplete multibyte or wide character" },
	{ EPROTO, "protocol error" },
	{ EBADMSG, "bad message" },
	{ EOPNOTSUPP, "operation not supported" },
	{ EDQUOT, "disk quota exceeded" },
};

const char *rfs_strerror(int errnum)
{
	static __thread char other[128];
	for (size_t i = 0; i < sizeof(go_errors) / sizeof(go_errors[0]); i++)
		if (go_errors[i].errnum == errnum)
			return go_errors[i].text;
	snprintf(other, sizeof(other), "%s", strerror(errnum));
	other[0] = (char)tolower((unsigned char)other[0]);
	return other;
}

int rfs_fail(struct error *err, int errnum, const char *op, const char *path)
{
	return error_setx(err, errnum, "%s %s: %s", op, path, rfs_strerror(errnum));
}

char *rfs_error_json(const struct error *err)
{
	const char *text = err->msg[0] ? err->msg : rfs_strerror(err->errnum);
	bool with_num = true;

	/* opengcs mapped these to Go's portable os.ErrNotExist, os.ErrExist
	 * and os.ErrPermission (losing the errno) so that os.IsNotExist() and
	 * friends work on the Windows host; it matches the text. */
	switch (err->errnum) {
	case ENOENT:
		text = "file does not exist", with_num = false;
		break;
	case EEXIST:
	case ENOTEMPTY:
		text = "file already exists", with_num = false;
		break;
	case EACCES:
	case EPERM:
		text = "permission denied", with_num = false;
		break;
	case RFS_E_INVALID:
		text = "invalid arguments", with_num = false;
		break;
	case RFS_E_EOF:
		text = "EOF", with_num = false;
		break;
	case RFS_E_PLAIN:
	case 0:
		with_num = false;
		break;
	}

	struct jw w = { 0 };
	jw_lit(&w, "{");
	jw_key(&w, "ErrString");
	jw_str(&w, text, strlen(text));
	if (with_num) {
		jw_lit(&w, ",");
		jw_key(&w, "ErrNum");
		jw_i64(&w, err->errnum);
	}
	jw_lit(&w, "}");
	return jw_finish(&w);
}

/* SPDX-License-Identifier: MIT */
/*
 * remotefs: file operations in the utility VM on behalf of the host
 * (docker cp, docker commit, Dockerfile ADD), one command per process.
 * README.md has the command line and the data formats.
 *
 * Every path a command receives is resolved inside the root given with
 * --root (default "/") by openat2(RESOLVE_IN_ROOT): ".." stops at the root
 * and symlinks, absolute or relative, are followed as if the root were "/".
 * An operation on a name acts on (parent dirfd, last component) and never
 * follows a symlink in the last component unless the command is defined to
 * (stat, readfile, writefile, openfile, readdir).
 */
#ifndef REMOTEFS_RFS_H
#define REMOTEFS_RFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "lcow/error.h"

/* Failures that opengcs reported as plain Go errors, without an errno:
 * their JSON has no ErrNum.  Above every errno value. */
enum {
	RFS_E_INVALID = 4096, /* "invalid arguments" (too few arguments) */
	RFS_E_EOF,	      /* "EOF" */
	RFS_E_PLAIN,	      /* the message is the whole ErrString */
};

/* What one command runs with. */
struct rfs_ctx {
	int root_fd; /* O_PATH directory: the root every path is resolved in */
	int in_fd;   /* the host's data: file contents, tar streams, requests */
	int out_fd;  /* results: JSON, raw bytes, tar streams, responses */
};

typedef int (*rfs_cmd_fn)(struct rfs_ctx *ctx, int argc, char **argv, struct error *err);

struct rfs_command {
	const char *name;
	rfs_cmd_fn fn;
	int min_args; /* fewer: "invalid arguments", as opengcs */
};

/* The command table, NULL-terminated; rfs_find_command() looks one up. */
extern const struct rfs_command rfs_commands[];
const struct rfs_command *rfs_find_command(const char *name);

/* The whole program, testable: parse argv, run one command with the given
 * fds as stdin/stdout/stderr and return the exit status (0 also when the
 * command failed: its error is the JSON on err_fd, as opengcs did; 1 for
 * an unknown command or a missing command/path, with text on err_fd). */
int rfs_main(int argc, char **argv, int in_fd, int out_fd, int err_fd);

/* --- errors (errors.c) --------------------------------------------------- */

/* Go's text for an errno ("no such file or directory", ...): the host
 * compares some of these, so they must not depend on the C library. */
const char *rfs_strerror(int errnum);
/* Set err to Go's *os.PathError form "OP PATH: text" and return -errnum. */
int rfs_fail(struct error *err, int errnum, const char *op, const char *path);
/* The error as opengcs serialised it: {"ErrString":...[,"ErrNum":n]}.
 * Returns a malloc'd string or NULL. */
char *rfs_error_json(const struct error *err);

/* --- path resolution (resolve.c) ----------------------------------------- */

/* openat2(dirfd, path, how) with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
 * retried on EAGAIN (a concurrent rename).  O_CLOEXEC is always added.
 * Returns the fd or -errno. */
int rfs_open_in_root(int root_fd, const char *path, int flags, mode_t mode);

/* The parent directory of PATH (O_PATH, resolved in the root) and its last
 * component.  *name points into a malloc'd copy returned in *buf.
 * The root itself ("/", "", "..") has no parent: -EINVAL unless
 * allow_root, then *dir_fd = -1 and *name = NULL.  A last component of
 * "." or ".." is -EINVAL. */
int rfs_resolve_parent(int root_fd, const char *path, bool allow_root, int *dir_fd, char **buf,
		       const char **name);

/* Like os.MkdirAll inside the root: existing directories (also through
 * symlinks, resolved in the root) are fine; mode for the new ones. */
int rfs_mkdir_all(int root_fd, const char *path, mode_t mode, struct error *err);

/* Remove NAME in DIR_FD and everything below it, never following a
 * symlink; absent is success. */
int rfs_remove_tree(int dir_fd, const char *name, struct error *err);

/* Docker's FollowSymlinkInScope: PATH (lexically under SCOPE) with every
 * symlink resolved as if SCOPE were "/", absent components kept as given.
 * Returns the malloc'd result (SCOPE-prefixed) in *out. */
int rfs_resolve_scoped(int root_fd, const char *path, const char *scope, char **out,
		       struct error *err);

/* The names in the directory open at fd, without "." and "..", in
 * directory order (a private open of "." is read, fd's offset is kept). */
int rfs_list_dir(int fd, char ***names, size_t *count);
void rfs_free_names(char **names, size_t count);

/* chmod that never follows a symlink in NAME (Linux cannot chmod a link:
 * -EOPNOTSUPP for one). */
int rfs_chmod_nofollow(int dir_fd, const char *name, mode_t mode);

/* Lexically clean a relative path (no leading "/", no "." or empty
 * components, ".." folded).  Returns the malloc'd result ("." for the
 * top) or NULL; *escapes is set when ".." would climb above the top. */
char *rfs_clean_rel(const char *path, bool *escapes);

/* Open PATH in the root for reading or writing, refusing anything but a
 * regular file (and a directory if allow_dir): -EISDIR / -EINVAL.  A FIFO
 * or device never blocks or is read.  Returns the fd or -errno. */
int rfs_open_regular(struct rfs_ctx *ctx, const char *path, int flags, mode_t mode,
		     bool allow_dir);

/* --- helpers (util.c) ---------------------------------------------------- */

/* A Go os.FileMode given in octal (as the host formats it) to a Unix mode:
 * permission bits, setuid/setgid/sticky from Go's or Unix's bits, and the
 * file type from Go's type bits or S_IFMT. */
int rfs_parse_mode(const char *s, mode_t *mode, struct error *err);
/* strconv.ParseInt(s, 10, bits). */
int rfs_parse_int(const char *s, int bits, int64_t *v, struct error *err);
/* A Unix st_mode as Go's os.FileMode. */
uint32_t rfs_go_mode(mode_t mode);

int rfs_write_all(int fd, const void *buf, size_t len);
/* Read up to len bytes, fewer only at EOF.  Returns the count or -errno. */
ssize_t rfs_read_full(int fd, void *buf, size_t len);
/* Copy everything from in to out.  Returns 0, or -errno with *which set to
 * 'r' (reading) or 'w' (writing). */
int rfs_copy_fd(int in_fd, int out_fd, char *which);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * The command line, as opengcs's `remotefs` took it:
 *
 *   remotefs [--root DIR] [-logfile F] [-loglevel L] COMMAND ARGS...
 *
 * A failed command still exits 0: the host reads the error as JSON from
 * stderr (a non-zero exit would make it report only the exit code).  Exit
 * 1 for an unknown command or one without arguments, 2 for a bad option.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lcow/cleanup.h"
#include "rfs.h"

static void say(int fd, const char *text)
{
	rfs_write_all(fd, text, strlen(text));
}

static void usage(int fd)
{
	say(fd, "usage: remotefs [--root DIR] COMMAND ARGS...\n"
		"  --root DIR   resolve every path inside DIR (default /)\n"
		"commands:");
	for (const struct rfs_command *c = rfs_commands; c->name; c++) {
		say(fd, " ");
		say(fd, c->name);
	}
	say(fd, "\n");
}

/* "-name", "--name", "-name=V", "--name=V": the Go flag forms. */
static bool flag_is(const char *arg, const char *name, const char **inline_value)
{
	if (arg[0] != '-')
		return false;
	arg += arg[1] == '-' ? 2 : 1;
	size_t n = strlen(name);
	if (strncmp(arg, name, n) != 0)
		return false;
	if (arg[n] == '=') {
		*inline_value = arg + n + 1;
		return true;
	}
	*inline_value = NULL;
	return arg[n] == '\0';
}

int rfs_main(int argc, char **argv, int in_fd, int out_fd, int err_fd)
{
	const char *root = "/";
	int i = 1;
	while (i < argc && argv[i][0] == '-' && argv[i][1]) {
		const char *v;
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-help") == 0) {
			usage(err_fd);
			return 2;
		}
		bool known = false;
		const char *opts[] = { "root", "logfile", "loglevel" };
		for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]) && !known; k++) {
			if (!flag_is(argv[i], opts[k], &v))
				continue;
			known = true;
			if (!v) {
				if (i + 1 >= argc) {
					say(err_fd, "remotefs: option needs a value: ");
					say(err_fd, argv[i]);
					say(err_fd, "\n");
					usage(err_fd);
					return 2;
				}
				v = argv[++i];
			}
			/* opengcs's logging flags are accepted and unused:
			 * nothing is logged. */
			if (k == 0)
				root = v;
		}
		if (!known) {
			say(err_fd, "remotefs: flag provided but not defined: ");
			say(err_fd, argv[i]);
			say(err_fd, "\n");
			usage(err_fd);
			return 2;
		}
		i++;
	}
	if (argc - i < 2) {
		say(err_fd, "remotefs: a command and its arguments are needed\n");
		usage(err_fd);
		return 1;
	}
	const struct rfs_command *cmd = rfs_find_command(argv[i]);
	if (!cmd) {
		say(err_fd, "unknown command: ");
		say(err_fd, argv[i]);
		say(err_fd, "\nknown commands:\n");
		for (const struct rfs_command *c = rfs_commands; c->name; c++) {
			say(err_fd, "\t");
			say(err_fd, c->name);
			say(err_fd, "\n");
		}
		return 1;
	}

	struct error err = { 0 };
	int nargs = argc - i - 1;
	char **args = argv + i + 1;
	int r;
	if (nargs < cmd->min_args) {
		r = error_setx(&err, RFS_E_INVALID, "invalid arguments");
	} else {
		int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			r = rfs_fail(&err, errno, "open", root);
		} else {
			struct rfs_ctx ctx = { .root_fd = fd, .in_fd = in_fd, .out_fd = out_fd };
			r = cmd->fn(&ctx, nargs, args, &err);
			close(fd);
		}
	}
	if (r < 0) {
		_cleanup_free_ char *json = rfs_error_json(&err);
		if (json)
			say(err_fd, json);
		else
			say(err_fd, "{\"ErrString\":\"out of memory\"}");
	}
	return 0;
}

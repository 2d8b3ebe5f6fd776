/* SPDX-License-Identifier: MIT */
/*
 * The multi-call dispatcher of /sbin/e2fsprogs (dispatch.h).  One copy of
 * libext2fs, libe2p, libcom_err, libblkid and libuuid serves all three
 * programs instead of one copy each: the kernel unpacks every byte of the
 * initrd at every boot.
 */
#include <stdio.h>
#include <string.h>

#include "dispatch.h"

#define MULTI_NAME "e2fsprogs"
#define KNOWN "mke2fs, mkfs.ext4, e2fsck, fsck.ext4, resize2fs"
#define USAGE                                                                                      \
	"usage: " MULTI_NAME " PROGRAM [ARGS...], or called as PROGRAM [ARGS...]\n"                \
	"  PROGRAM: " KNOWN "\n"

static const struct program {
	const char *name;
	int (*main)(int argc, char **argv);
} programs[] = {
	{ "mke2fs", mke2fs_main },
	/* mke2fs takes the filesystem type from this name. */
	{ "mkfs.ext4", mke2fs_main },
	{ "e2fsck", e2fsck_main },
	{ "fsck.ext4", e2fsck_main },
	{ "resize2fs", resize2fs_main },
};

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static const struct program *find_program(const char *name)
{
	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
		if (strcmp(programs[i].name, name) == 0)
			return &programs[i];
	}
	return NULL;
}

int e2fsprogs_dispatch(int argc, char **argv)
{
	const char *name = argc > 0 && argv[0] ? base_name(argv[0]) : "";
	const struct program *p;

	if (strcmp(name, MULTI_NAME) == 0) {
		if (argc < 2) {
			fputs(USAGE, stderr);
			return 2;
		}
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			fputs(USAGE, stdout);
			return 0;
		}
		argc--;
		argv++;
		name = base_name(argv[0]);
	}
	p = find_program(name);
	if (!p) {
		fprintf(stderr, MULTI_NAME ": unknown program '%s' (known: " KNOWN ")\n" USAGE,
			name);
		return 2;
	}
	return p->main(argc, argv);
}

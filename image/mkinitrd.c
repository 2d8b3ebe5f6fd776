/* SPDX-License-Identifier: MIT */
/*
 * mkinitrd: reproducible initrd (newc cpio, gzip or LZ4) or rootfs tar from
 * gen_init_cpio-style lists.  See mkinitrd.h for the format and usage()
 * for the command line.
 *
 * The output appears complete or not at all: it is written to a temporary
 * file next to OUT and renamed over OUT at the end; on error (or SIGINT,
 * SIGTERM, SIGHUP) the temporary file is removed.
 */
#include "lcow/outfile.h"
#include "mkinitrd.h"

#include "lcow/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXIT_USAGE 2

/* The one piece of global state: the signal handler must know which
 * temporary file to remove. */


static void usage(FILE *f)
{
	fputs("usage: mkinitrd -o OUT [options] LIST...\n"
	      "Build an initrd (newc cpio) or a rootfs tar from gen_init_cpio-style lists\n"
	      "(LIST `-` reads stdin):\n"
	      "  file  <name> <location> <mode> <uid> <gid> [<hard links>...]\n"
	      "  dir   <name> <mode> <uid> <gid>\n"
	      "  nod   <name> <mode> <uid> <gid> <b|c> <major> <minor>\n"
	      "  slink <name> <target> <mode> <uid> <gid>\n"
	      "  pipe  <name> <mode> <uid> <gid>\n"
	      "  sock  <name> <mode> <uid> <gid>\n"
	      "Entries are sorted by name; missing parent directories are added (0755 0:0).\n"
	      "Options:\n"
	      "  -o, --output OUT        output file (required; replaced atomically)\n"
	      "      --format cpio|tar   newc cpio (default) or pax/ustar tar\n"
	      "      --compress gzip|lz4|none  default: gzip for cpio, none for tar;\n"
	      "                          lz4 is the legacy frame (`lz4 -l`), the one the\n"
	      "                          kernel's initramfs unpacker reads\n"
	      "      --mtime N           mtime of every entry\n"
	      "                          (default: $SOURCE_DATE_EPOCH, else 0)\n"
	      "  -C, --directory DIR     resolve relative <location>s in DIR (default: cwd)\n"
	      "  -h, --help              this text\n",
	      f);
}

static int parse_mtime(const char *s, const char *what, int64_t *out, struct error *err)
{
	long long v = 0;
	if (!*s || strlen(s) > 10)
		goto bad;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			goto bad;
		v = v * 10 + (*p - '0');
	}
	if (v > SPEC_MTIME_MAX)
		goto bad;
	*out = v;
	return 0;
bad:
	return error_setx(err, EINVAL, "%s `%s`: expected seconds since the epoch, 0-%lld", what, s,
			  SPEC_MTIME_MAX);
}

static int parse_lists(struct spec *s, char **lists, int n, struct error *err)
{
	bool stdin_used = false;
	for (int i = 0; i < n; i++) {
		int r;
		if (strcmp(lists[i], "-") == 0) {
			if (stdin_used)
				return error_setx(err, EINVAL, "stdin (`-`) given twice");
			stdin_used = true;
			r = spec_parse_stream(s, stdin, "<stdin>", err);
		} else {
			_cleanup_fclose_ FILE *f = fopen(lists[i], "re");
			if (!f)
				return error_set(err, errno, "open list `%s`", lists[i]);
			r = spec_parse_stream(s, f, lists[i], err);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* Write into a temporary file in OUT's directory, then rename it over OUT. */
static int write_output(const char *output, const struct spec *s,
			const struct mkinitrd_options *o, struct error *err)
{
	int fd = outfile_create(output, err);
	if (fd < 0)
		return fd;
	int r = o->compress == MKINITRD_COMPRESS_LZ4 ? spec_write_archive_lz4(s, o, fd, err)
						     : spec_write_archive(s, o, fd, err);
	return outfile_commit(fd, output, r, err);
}

int main(int argc, char **argv)
{
	enum { OPT_FORMAT = 0x100, OPT_COMPRESS, OPT_MTIME };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "directory", required_argument, NULL, 'C' },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "compress", required_argument, NULL, OPT_COMPRESS },
		{ "mtime", required_argument, NULL, OPT_MTIME },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct mkinitrd_options o = { .format = MKINITRD_CPIO, .src_dirfd = AT_FDCWD };
	struct error err = { 0 };
	const char *output = NULL, *mtime_arg = NULL;
	bool compress_set = false;
	int c;

	while ((c = getopt_long(argc, argv, "o:C:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			output = optarg;
			break;
		case 'C':
			o.src_dir = optarg;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "cpio") == 0) {
				o.format = MKINITRD_CPIO;
			} else if (strcmp(optarg, "tar") == 0) {
				o.format = MKINITRD_TAR;
			} else {
				fprintf(stderr, "mkinitrd: --format `%s`: expected cpio or tar\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_COMPRESS:
			if (strcmp(optarg, "gzip") == 0) {
				o.compress = MKINITRD_COMPRESS_GZIP;
			} else if (strcmp(optarg, "lz4") == 0) {
				o.compress = MKINITRD_COMPRESS_LZ4;
			} else if (strcmp(optarg, "none") == 0) {
				o.compress = MKINITRD_COMPRESS_NONE;
			} else {
				fprintf(stderr,
					"mkinitrd: --compress `%s`: expected gzip, lz4 or none\n",
					optarg);
				return EXIT_USAGE;
			}
			compress_set = true;
			break;
		case OPT_MTIME:
			mtime_arg = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!output) {
		fprintf(stderr, "mkinitrd: -o OUT is required\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (optind >= argc) {
		fprintf(stderr, "mkinitrd: no list given\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!compress_set)
		o.compress = o.format == MKINITRD_CPIO ? MKINITRD_COMPRESS_GZIP
						       : MKINITRD_COMPRESS_NONE;

	const char *sde = getenv("SOURCE_DATE_EPOCH");
	int r = 0;
	if (mtime_arg)
		r = parse_mtime(mtime_arg, "--mtime", &o.mtime, &err);
	else if (sde && *sde)
		r = parse_mtime(sde, "SOURCE_DATE_EPOCH", &o.mtime, &err);
	if (r < 0) {
		fprintf(stderr, "mkinitrd: %s\n", error_text(&err));
		return EXIT_USAGE;
	}

	_cleanup_close_ int dirfd = -1;
	if (o.src_dir) {
		dirfd = open(o.src_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0) {
			error_set(&err, errno, "-C `%s`", o.src_dir);
			fprintf(stderr, "mkinitrd: %s\n", error_text(&err));
			return 1;
		}
		o.src_dirfd = dirfd;
	}

	outfile_handle_signals();

	struct spec s;
	spec_init(&s);
	r = parse_lists(&s, argv + optind, argc - optind, &err);
	if (r >= 0)
		r = spec_finalise(&s, &err);
	if (r >= 0)
		r = spec_check_sources(&s, &o, &err);
	if (r >= 0)
		r = write_output(output, &s, &o, &err);
	spec_free(&s);
	if (r < 0) {
		fprintf(stderr, "mkinitrd: %s\n", error_text(&err));
		return 1;
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * tar2ext4: the command line, compatible with hcsshim's cmd/tar2ext4
 * (Go-style single-dash long options; `--x` works too).  The output
 * appears complete or not at all: it is built in a temporary file next to
 * OUT and renamed over OUT at the end; on error (or SIGINT, SIGTERM,
 * SIGHUP) the temporary file is removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ext2fs/ext2_err.h>

#include "diskutil.h"
#include "ext4w.h"
#include "lcow/cleanup.h"
#include "lcow/error.h"
#include "lcow/outfile.h"
#include "tar2ext4.h"
#include "vhd.h"

#define EXIT_USAGE 2
#define COPY_BUF_SIZE (1u << 20)
#define COPY_HOLE_CHUNK (64u << 10)

/* The one piece of global state: the signal handler must know which
 * temporary file to remove. */


static void usage(FILE *f)
{
	fputs("usage: tar2ext4 [-i IN] -o OUT [-overlay] [-vhd] [-inline] [-convert-slash]\n"
	      "                [-size BYTES] [-uuid UUID] [-v]\n"
	      "       tar2ext4 -only-vhd [-i IN] -o OUT\n"
	      "Convert an OCI layer (tar, plain or gzip/zstd/xz/bzip2-compressed) into an ext4\n"
	      "image, without root and without unpacking it anywhere.\n"
	      "\n"
	      "  -i IN           the layer (default: stdin)\n"
	      "  -o OUT          the image (required); built in a temporary file next to OUT\n"
	      "                  and renamed at the end: on any error no OUT is left\n"
	      "  -overlay        OCI whiteouts to overlayfs form: `.wh.NAME` becomes a character\n"
	      "                  device 0:0 named NAME (mode 0, owner 0:0, times 0, whatever the\n"
	      "                  whiteout entry said); `.wh..wh..opq` sets the xattr\n"
	      "                  trusted.overlay.opaque=y on its directory; other `.wh..wh.*`\n"
	      "                  (aufs bookkeeping) are dropped.  Without -overlay they are\n"
	      "                  ordinary files.\n"
	      "  -convert-slash  treat `\\` in names and link targets as `/` (tars from Windows)\n"
	      "  -inline         keep small files (up to about 128 bytes, without xattrs) in\n"
	      "                  their inode (ext4 inline_data; such images cannot use DAX)\n"
	      "  -vhd            append a fixed-VHD footer (512 bytes)\n"
	      "  -only-vhd       no conversion: copy IN (an ext4 image or anything else; zero\n"
	      "                  padded to a multiple of 512 bytes) and append a VHD footer\n"
	      "  -size BYTES     the image size (K, M, G, T suffixes); default: as small as\n"
	      "                  fits, found by a first pass over the tar headers\n"
	      "  -uuid UUID      the file system UUID (default: derived from the input)\n"
	      "  -v              print a summary on stderr\n"
	      "  -h, --help      this text\n"
	      "\n"
	      "Sizing: without -size the input is read twice, headers first.  A seekable IN\n"
	      "(a file) is simply re-read; stdin that is a pipe is first copied to an unnamed\n"
	      "temporary file in OUT's directory (as large as the input, compressed or not).\n"
	      "With -size a pipe is converted in one pass and every file must fit.\n"
	      "\n"
	      "Reproducible: the same input and options give the same bytes.  The UUID and the\n"
	      "directory hash seed derive from the input; every time the tar does not set is\n"
	      "$SOURCE_DATE_EPOCH (or 0), as are the superblock times; a missing atime or\n"
	      "ctime is the entry's mtime; allocation is deterministic.\n"
	      "\n"
	      "Layout: 4 KiB blocks, 256-byte inodes, extents, no journal, read-only feature;\n"
	      "sparse files stay sparse (tar sparse maps, and runs of 64 KiB of zeros).\n"
	      "\n"
	      "Tar semantics and hostile archives (nothing is ever written outside the image):\n"
	      "  - names are normalised: leading `/`, `.` and empty components go, `..`\n"
	      "    removes a component; a `..` climbing above the root is an error\n"
	      "  - a later entry replaces an earlier one of the same name (a file replaced\n"
	      "    by a directory or the reverse); a directory over a directory merges\n"
	      "  - missing parent directories are created with their parent's mode and owner\n"
	      "  - a path through a symlink or a file in the image (`a -> /etc`, then\n"
	      "    `a/passwd`) is an error: symlinks are never followed\n"
	      "  - symlink targets are stored as given (they resolve in the guest)\n"
	      "  - a hard link's target must be an earlier entry inside the image, not a\n"
	      "    directory; anything else is an error\n"
	      "  - a name component over 255 bytes, a size over ext4's 16 TiB (or more than\n"
	      "    the image has room for), a symlink target over 4095 bytes, an xattr\n"
	      "    outside user./trusted./security./POSIX ACLs, a uid over 2^32-1: errors,\n"
	      "    raised before anything is allocated for the entry\n"
	      "  - a truncated or corrupt stream is an error\n"
	      "  - /lost+found stays a directory (e2fsck needs it)\n",
	      f);
}

static int out_dir(const char *output, char *dir, size_t size, struct error *err)
{
	_cleanup_free_ char *copy = strdup(output);
	if (!copy)
		return error_set(err, ENOMEM, "copy output name");
	int n = snprintf(dir, size, "%s", dirname(copy));
	if (n < 0 || (size_t)n >= size)
		return error_setx(err, ENAMETOOLONG, "output name `%s` too long", output);
	return 0;
}

/* An unnamed file for spooling stdin: gone as soon as it is closed. */
static int spool_open(const char *dir, struct error *err)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/.tar2ext4-spool.XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return error_setx(err, ENAMETOOLONG, "directory `%s` too long", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "create spool file in `%s`", dir);
	unlink(path);
	return fd;
}

static int spool(int in_fd, int fd, struct error *err)
{
	_cleanup_free_ char *buf = malloc(COPY_BUF_SIZE);
	off_t off = 0;
	if (!buf)
		return error_set(err, ENOMEM, "spool buffer");
	for (;;) {
		ssize_t n = read(in_fd, buf, COPY_BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_set(err, errno, "read stdin");
		if (n == 0)
			break;
		int r = pwrite_full(fd, buf, (size_t)n, off);
		if (r < 0)
			return error_set(err, -r, "spool stdin");
		off += n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		return error_set(err, errno, "rewind spool");
	return 0;
}

static bool all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* -only-vhd: copy the input, keeping holes for zero chunks, pad it to a
 * whole sector and append the footer.  The unique id hashes the data. */
static int copy_with_footer(int in_fd, int out_fd, uint32_t epoch, uint64_t *size,
			    struct error *err)
{
	_cleanup_free_ char *buf = malloc(COPY_BUF_SIZE);
	struct digest d;
	uint64_t off = 0;

	if (!buf)
		return error_set(err, ENOMEM, "copy buffer");
	digest_init(&d, 0x6f6e6c79766864ULL);
	for (;;) {
		ssize_t n = read(in_fd, buf, COPY_BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return error_set(err, errno, "read input");
		if (n == 0)
			break;
		digest_update(&d, buf, (size_t)n);
		for (size_t i = 0; i < (size_t)n; i += COPY_HOLE_CHUNK) {
			size_t len =
			    (size_t)n - i < COPY_HOLE_CHUNK ? (size_t)n - i : COPY_HOLE_CHUNK;
			if (all_zero(buf + i, len))
				continue;
			int r = pwrite_full(out_fd, buf + i, len, (off_t)(off + i));
			if (r < 0)
				return error_set(err, -r, "write copy");
		}
		off += (uint64_t)n;
	}
	uint64_t padded = (off + VHD_SECTOR_SIZE - 1) / VHD_SECTOR_SIZE * VHD_SECTOR_SIZE;
	if (ftruncate(out_fd, (off_t)padded) < 0)
		return error_set(err, errno, "size the copy");
	uint8_t id[16];
	digest_final(&d, id);
	uuid_from_digest(id);
	int r = vhd_footer_append(out_fd, padded, vhd_timestamp(epoch), id, err);
	if (r < 0)
		return r;
	*size = padded;
	return 0;
}

struct job {
	const char *input, *output;
	bool only_vhd, vhd, verbose;
	struct t2e_options o;
};

static int build(const struct job *j, int in_fd, int out_fd, struct t2e_stats *st,
		 struct error *err)
{
	char dir[PATH_MAX];
	int r = out_dir(j->output, dir, sizeof(dir), err);
	if (r < 0)
		return r;

	if (j->only_vhd) {
		uint64_t size = 0;
		r = copy_with_footer(in_fd, out_fd, j->o.epoch, &size, err);
		st->image_size = size;
		return r;
	}

	struct stat sb;
	if (fstat(in_fd, &sb) < 0)
		return error_set(err, errno, "stat input");
	bool seekable = S_ISREG(sb.st_mode) && lseek(in_fd, 0, SEEK_CUR) >= 0;
	_cleanup_close_ int spool_fd = -1;
	if (!seekable && !j->o.size) {
		spool_fd = spool_open(dir, err);
		if (spool_fd < 0)
			return spool_fd;
		r = spool(in_fd, spool_fd, err);
		if (r < 0)
			return r;
		in_fd = spool_fd;
		seekable = true;
	}

	r = t2e_convert(in_fd, seekable, outfile_tmp_path(), out_fd, &j->o, st, err);
	if (r < 0)
		return r;
	/* libext2fs stamps the wall clock into s_wtime on close. */
	r = ext4_sb_set_times(out_fd, j->o.epoch,
			      EXT4_SB_WTIME | EXT4_SB_MKFS_TIME | EXT4_SB_LASTCHECK, err);
	if (r < 0)
		return error_prefix(err, r, "superblock times");
	if (j->vhd) {
		struct digest d;
		uint8_t id[16];
		digest_init(&d, 0x766864ULL);
		digest_update(&d, st->uuid, sizeof(st->uuid));
		digest_final(&d, id);
		uuid_from_digest(id);
		r = vhd_footer_append(out_fd, st->image_size, vhd_timestamp(j->o.epoch), id, err);
	}
	return r;
}

static int write_output(const struct job *j, int in_fd, struct t2e_stats *st, struct error *err)
{
	int fd = outfile_create(j->output, err);
	if (fd < 0)
		return fd;
	return outfile_commit(fd, j->output, build(j, in_fd, fd, st, err), err);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	enum { OPT_OVERLAY = 0x100, OPT_VHD, OPT_ONLY_VHD, OPT_INLINE, OPT_SLASH, OPT_SIZE,
	       OPT_UUID };
	static const struct option longopts[] = {
		{ "i", required_argument, NULL, 'i' },
		{ "input", required_argument, NULL, 'i' },
		{ "o", required_argument, NULL, 'o' },
		{ "output", required_argument, NULL, 'o' },
		{ "overlay", no_argument, NULL, OPT_OVERLAY },
		{ "vhd", no_argument, NULL, OPT_VHD },
		{ "only-vhd", no_argument, NULL, OPT_ONLY_VHD },
		{ "inline", no_argument, NULL, OPT_INLINE },
		{ "convert-slash", no_argument, NULL, OPT_SLASH },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "uuid", required_argument, NULL, OPT_UUID },
		{ "v", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "h", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct job j = { 0 };
	struct error err = { 0 };
	int c, r;

	while ((c = getopt_long_only(argc, argv, "i:o:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			j.input = optarg;
			break;
		case 'o':
			j.output = optarg;
			break;
		case OPT_OVERLAY:
			j.o.overlay = true;
			break;
		case OPT_VHD:
			j.vhd = true;
			break;
		case OPT_ONLY_VHD:
			j.only_vhd = true;
			break;
		case OPT_INLINE:
			j.o.inline_data = true;
			break;
		case OPT_SLASH:
			j.o.convert_slash = true;
			break;
		case OPT_SIZE:
			if (parse_size(optarg, &j.o.size, &err) < 0 || j.o.size < 64 * 1024) {
				fprintf(stderr, "tar2ext4: -size: %s\n",
					err.msg[0] ? error_text(&err) : "at least 64K");
				return EXIT_USAGE;
			}
			break;
		case OPT_UUID:
			if (uuid_parse(optarg, j.o.uuid, &err) < 0) {
				fprintf(stderr, "tar2ext4: -uuid: %s\n", error_text(&err));
				return EXIT_USAGE;
			}
			j.o.have_uuid = true;
			break;
		case 'v':
			j.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc || !j.output || !*j.output) {
		fprintf(stderr, "tar2ext4: %s\n", optind != argc ? "unexpected arguments"
								: "-o OUT is required");
		usage(stderr);
		return EXIT_USAGE;
	}

	int64_t sde;
	if (source_date_epoch(&sde, &err) < 0) {
		fprintf(stderr, "tar2ext4: %s\n", error_text(&err));
		return EXIT_USAGE;
	}
	j.o.epoch = sde > UINT32_MAX ? UINT32_MAX : (uint32_t)sde;
	/* libext2fs' error codes get their text from this table. */
	initialize_ext2_error_table();
	/* Pax headers carry UTF-8 names; a UTF-8 locale keeps them as is. */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "");

	outfile_handle_signals();

	_cleanup_close_ int in_fd = -1;
	if (j.input && strcmp(j.input, "-") != 0) {
		in_fd = open(j.input, O_RDONLY | O_CLOEXEC);
		if (in_fd < 0) {
			fprintf(stderr, "tar2ext4: open `%s`: %s\n", j.input, strerror(errno));
			return 1;
		}
	}

	struct t2e_stats st;
	memset(&st, 0, sizeof(st));
	double t0 = now_s();
	r = write_output(&j, in_fd >= 0 ? in_fd : STDIN_FILENO, &st, &err);
	if (r < 0) {
		fprintf(stderr, "tar2ext4: %s\n", error_text(&err));
		return 1;
	}
	if (j.verbose) {
		double dt = now_s() - t0;
		char uuid[37];
		uuid_format(st.uuid, uuid);
		fprintf(stderr,
			"tar2ext4: %" PRIu64 " entries (%" PRIu64 " files, %" PRIu64
			" dirs, %" PRIu64 " symlinks, %" PRIu64 " hard links, %" PRIu64
			" devices/fifos, %" PRIu64
			" whiteouts), %.1f MiB of file data, %.1f MiB written -> %" PRIu64
			" bytes%s, uuid %s, %.2f s, %.1f MB/s\n",
			st.entries, st.files, st.dirs, st.symlinks, st.hardlinks, st.specials,
			st.whiteouts, (double)st.file_bytes / 1048576.0,
			(double)st.written_bytes / 1048576.0, st.image_size,
			j.vhd || j.only_vhd ? " + VHD footer" : "", uuid, dt,
			dt > 0 ? (double)st.file_bytes / 1e6 / dt : 0.0);
	}
	return 0;
}

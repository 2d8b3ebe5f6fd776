/* SPDX-License-Identifier: MIT */
/*
 * lcow-disk: scratch VHDs for the utility VM.
 *
 *   create  an empty ext4 file system in a sparse fixed VHD, formatted the
 *           way the Windows host formats scratch disks in the guest
 *   resize  grow (or shrink, never below what is in use) a scratch VHD
 *           offline
 *   info    the footer and the ext4 superblock, as JSON
 *
 * Formatting and resizing run the host's mke2fs, e2fsck and resize2fs;
 * everything else (footer, superblock times) is done here.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

#include <ext2fs/ext2_err.h>

#include "diskutil.h"
#include "lcow/cleanup.h"
#include "lcow/error.h"
#include "lcow/outfile.h"
#include "vhd.h"

#define EXIT_USAGE 2
#define MIN_DISK_SIZE (8ULL << 20)
#define SIZE_ALIGN 4096ULL
#define TOOL_OUTPUT_MAX 2048
#define PUNCH_GRAIN 4096u
/* What the Windows host runs in the guest to format a scratch disk. */
#define MKFS_FEATURES "^has_journal,sparse_super2,^resize_inode"
#define MKFS_EXTENDED "lazy_itable_init=0,nodiscard"

extern char **environ;


static void usage(FILE *f)
{
	fputs("usage: lcow-disk create --size SIZE [--uuid UUID] OUT.vhd\n"
	      "       lcow-disk resize --size SIZE [--file-only] DISK.vhd\n"
	      "       lcow-disk info DISK.vhd\n"
	      "Scratch disks for the LCOW utility VM: an ext4 file system in a fixed VHD\n"
	      "(raw data + 512-byte footer).\n"
	      "\n"
	      "  create   a sparse OUT.vhd of SIZE bytes (K, M, G, T suffixes; rounded up to\n"
	      "           4 KiB, at least 8M) holding an empty ext4, formatted like the\n"
	      "           Windows host does in the guest:\n"
	      "             mke2fs -t ext4 -E " MKFS_EXTENDED " -O " MKFS_FEATURES "\n"
	      "           The UUID (and so the VHD unique id) derives from SIZE unless --uuid\n"
	      "           is given; times are $SOURCE_DATE_EPOCH or 0: the same command gives\n"
	      "           the same bytes.  OUT appears complete or not at all.\n"
	      "  resize   change the size of an existing fixed VHD offline: validate the\n"
	      "           footer, check the file system (e2fsck -fn must be clean), strip the\n"
	      "           footer, extend the file sparsely, resize2fs, append a fresh footer\n"
	      "           (same unique id).  SIZE is required.  Shrinking below the blocks in\n"
	      "           use is refused; on a failed resize2fs the old footer is restored.\n"
	      "           Never run it on a disk a VM has attached.\n"
	      "           --file-only: change only the file (data size and footer, same\n"
	      "           unique id) and leave the file system to a guest (lcow-oneshot\n"
	      "           resize); it never cuts into the file system the superblock\n"
	      "           describes, so it also undoes an earlier --file-only growth.\n"
	      "           An unformatted disk (no ext4 magic) takes any size.\n"
	      "  info     footer fields and the ext4 size as one JSON object\n"
	      "\n"
	      "Exit status: 0 success, 1 failure, 2 usage.\n",
	      f);
}

/* --- running e2fsprogs --------------------------------------------------- */

static const char *tool_path(const char *name, char *buf, size_t size)
{
	static const char *const dirs[] = { "/usr/sbin", "/sbin" };
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(buf, size, "%s/%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return name;
}

/* Run argv (argv[0] a tool name) with stdin from /dev/null and its output
 * captured; on a non-zero exit the error carries the output's tail. */
static int run_tool(char *const argv[], uint32_t fake_time, int *status, struct error *err)
{
	char path[PATH_MAX], env_time[64];
	const char *tool = tool_path(argv[0], path, sizeof(path));
	int pipefd[2];
	size_t nenv = 0;

	while (environ[nenv])
		nenv++;
	_cleanup_free_ char **envp = calloc(nenv + 2, sizeof(*envp));
	if (!envp)
		return error_set(err, ENOMEM, "environment");
	size_t k = 0;
	for (size_t i = 0; i < nenv; i++)
		if (strncmp(environ[i], "E2FSPROGS_FAKE_TIME=", 20) != 0)
			envp[k++] = environ[i];
	/* libext2fs takes "now" from here; 0 would mean the wall clock. */
	if (fake_time) {
		snprintf(env_time, sizeof(env_time), "E2FSPROGS_FAKE_TIME=%u", fake_time);
		envp[k++] = env_time;
	}

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return error_set(err, errno, "pipe");
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	pid_t pid;
	int r = posix_spawnp(&pid, tool, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	if (r != 0) {
		close(pipefd[0]);
		return error_set(err, r, "run %s", argv[0]);
	}

	char out[TOOL_OUTPUT_MAX + 1];
	size_t len = 0;
	char chunk[4096];
	for (;;) {
		ssize_t n = read(pipefd[0], chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		/* Keep the tail: the last lines say what went wrong. */
		size_t m = (size_t)n;
		if (m >= TOOL_OUTPUT_MAX) {
			memcpy(out, chunk + m - TOOL_OUTPUT_MAX, TOOL_OUTPUT_MAX);
			len = TOOL_OUTPUT_MAX;
		} else {
			if (len + m > TOOL_OUTPUT_MAX) {
				size_t drop = len + m - TOOL_OUTPUT_MAX;
				memmove(out, out + drop, len - drop);
				len -= drop;
			}
			memcpy(out + len, chunk, m);
			len += m;
		}
	}
	close(pipefd[0]);
	int ws;
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return error_set(err, errno, "wait for %s", argv[0]);
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == ' '))
		len--;
	out[len] = '\0';
	*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
	if (*status != 0)
		return error_setx(err, EIO, "%s exited with status %d%s%s", argv[0], *status,
				  len ? ": " : "", out);
	return 0;
}

/* --- helpers ------------------------------------------------------------- */

static int parse_disk_size(const char *s, uint64_t *out, struct error *err)
{
	uint64_t v;
	int r = parse_size(s, &v, err);
	if (r < 0)
		return r;
	if (v > VHD_MAX_SIZE)
		return error_setx(err, EFBIG, "size %s: a VHD holds at most 2040 GiB", s);
	v = (v + SIZE_ALIGN - 1) / SIZE_ALIGN * SIZE_ALIGN;
	if (v < MIN_DISK_SIZE)
		return error_setx(err, EINVAL, "size %s: at least 8M", s);
	*out = v;
	return 0;
}

static void derive_id(const uint8_t *data, size_t len, const char *what, uint8_t out[16])
{
	struct digest d;
	digest_init(&d, 0x6c636f772d64736bULL); /* "lcow-dsk" */
	digest_update(&d, what, strlen(what));
	digest_update(&d, data, len);
	digest_final(&d, out);
	uuid_from_digest(out);
}

/*
 * mke2fs stamps the wall clock into the root, lost+found and bad-block
 * inodes when E2FSPROGS_FAKE_TIME is 0; give them time t like the rest.
 */
static int fix_inode_times(const char *path, uint32_t t, struct error *err)
{
	static const ext2_ino_t inos[] = { EXT2_BAD_INO, EXT2_ROOT_INO, EXT2_GOOD_OLD_FIRST_INO };
	ext2_filsys fs;
	errcode_t e = ext2fs_open(path, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager,
				  &fs);
	if (e)
		return error_setx(err, EIO, "open %s: %s", path, error_message(e));
	fs->now = t;
	for (size_t i = 0; i < ARRAY_SIZE(inos); i++) {
		struct ext2_inode_large in;
		e = ext2fs_read_inode_full(fs, inos[i], (struct ext2_inode *)&in, sizeof(in));
		if (e)
			break;
		if (inos[i] == EXT2_GOOD_OLD_FIRST_INO && !LINUX_S_ISDIR(in.i_mode))
			continue;
		in.i_atime = in.i_mtime = in.i_ctime = t;
		if (in.i_dtime)
			in.i_dtime = t;
		if (in.i_extra_isize >= 24) {
			in.i_atime_extra = in.i_mtime_extra = in.i_ctime_extra = 0;
			in.i_crtime = t;
			in.i_crtime_extra = 0;
		}
		e = ext2fs_write_inode_full(fs, inos[i], (struct ext2_inode *)&in, sizeof(in));
		if (e)
			break;
	}
	if (e) {
		ext2fs_close_free(&fs);
		return error_setx(err, EIO, "set inode times: %s", error_message(e));
	}
	fs->super->s_mkfs_time = fs->super->s_lastcheck = t;
	ext2fs_mark_super_dirty(fs);
	e = ext2fs_close_free(&fs);
	if (e)
		return error_setx(err, EIO, "close %s: %s", path, error_message(e));
	return 0;
}

/* --- create -------------------------------------------------------------- */

static int build_scratch(int fd, uint64_t size, const uint8_t uuid[16], uint32_t t,
			 struct error *err)
{
	char uuid_s[37], seed_s[37], ext[128], blocks[32];
	uint8_t seed[16];
	int status;
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof(tmp), "%s", outfile_tmp_path());

	if (ftruncate(fd, (off_t)size) < 0)
		return error_set(err, errno, "size `%s` to %" PRIu64 " bytes", tmp, size);
	uuid_format(uuid, uuid_s);
	derive_id(uuid, 16, "hash seed", seed);
	uuid_format(seed, seed_s);
	snprintf(ext, sizeof(ext), "%s,hash_seed=%s", MKFS_EXTENDED, seed_s);
	snprintf(blocks, sizeof(blocks), "%" PRIu64 "k", size / 1024);
	char *const argv[] = { "mke2fs", "-q",	 "-F",	  "-t",	    "ext4",   "-E",	 ext,
			       "-O",	 MKFS_FEATURES, "-U", uuid_s, tmp, blocks, NULL };
	int r = run_tool(argv, t, &status, err);
	if (r < 0)
		return r;
	r = fix_inode_times(tmp, t, err);
	if (r < 0)
		return r;
	r = ext4_sb_set_times(fd, t, EXT4_SB_WTIME | EXT4_SB_MKFS_TIME | EXT4_SB_LASTCHECK, err);
	if (r < 0)
		return error_prefix(err, r, "superblock times");
	/* lazy_itable_init=0 has mke2fs zero every inode table; as holes
	 * they read the same and cost no space. */
	r = punch_zeros(fd, 0, size, PUNCH_GRAIN, err);
	if (r < 0)
		return r;

	struct ext4_sb_info sb;
	r = ext4_sb_read(fd, 0, &sb, err);
	if (r < 0)
		return r;
	if (sb.size > size)
		return error_setx(err, EIO,
				  "mke2fs made %" PRIu64 " bytes of file system in %" PRIu64,
				  sb.size, size);
	uint8_t id[16];
	derive_id(sb.uuid, sizeof(sb.uuid), "vhd", id);
	return vhd_footer_append(fd, size, vhd_timestamp(t), id, err);
}

static int cmd_create(const char *output, uint64_t size, const uint8_t *uuid_opt, uint32_t t,
		      struct error *err)
{
	uint8_t uuid[16];
	if (uuid_opt) {
		memcpy(uuid, uuid_opt, 16);
	} else {
		uint64_t le = htole64(size);
		derive_id((const uint8_t *)&le, sizeof(le), "scratch", uuid);
	}

	int fd = outfile_create(output, err);
	if (fd < 0)
		return fd;
	return outfile_commit(fd, output, build_scratch(fd, size, uuid, t, err), err);
}

/* --- resize -------------------------------------------------------------- */

/* The ext2/3/4 magic in the primary superblock. */
static bool has_ext4_magic(int fd)
{
	uint8_t m[2];
	ssize_t n = pread_full(fd, m, sizeof(m),
			       EXT4_SB_OFFSET + offsetof(struct ext2_super_block, s_magic));
	return n == (ssize_t)sizeof(m) && (m[0] | m[1] << 8) == EXT4_SB_MAGIC;
}

/* --file-only: the data grows (or shrinks back, never below the file
 * system) and the footer follows; the file system is not touched.  For a
 * guest that resizes it afterwards, as the Windows host has the utility VM
 * do. */
static int resize_file_only(int fd, const char *disk, const struct vhd_info *info,
			    uint64_t fs_size, uint64_t new_size, uint32_t t, struct error *err)
{
	uint64_t data_size = info->current_size;
	uint8_t old_footer[VHD_FOOTER_SIZE];
	int r;

	if (new_size < fs_size)
		return error_setx(err, EINVAL,
				  "--file-only: %" PRIu64 " bytes would cut the %" PRIu64
				  "-byte file system of `%s`",
				  new_size, fs_size, disk);
	ssize_t n = pread_full(fd, old_footer, sizeof(old_footer), (off_t)data_size);
	if (n != (ssize_t)sizeof(old_footer))
		return error_set(err, n < 0 ? (int)-n : EIO, "read the footer of `%s`", disk);
	if (ftruncate(fd, (off_t)data_size) < 0)
		return error_set(err, errno, "strip the footer of `%s`", disk);
	if (ftruncate(fd, (off_t)new_size) < 0) {
		r = error_set(err, errno, "resize `%s`", disk);
		goto out_restore_footer;
	}
	r = vhd_footer_append(fd, new_size, vhd_timestamp(t), info->unique_id, err);
	if (r < 0)
		goto out_restore_footer;
	if (fsync(fd) < 0)
		return error_set(err, errno, "sync `%s`", disk);
	return 0;

out_restore_footer:
	if (ftruncate(fd, (off_t)data_size) == 0)
		pwrite_full(fd, old_footer, sizeof(old_footer), (off_t)data_size);
	return r;
}

static int cmd_resize(const char *disk, uint64_t new_size, bool file_only, uint32_t t,
		      struct error *err)
{
	struct vhd_info info;
	struct ext4_sb_info sb;
	uint64_t file_size;
	uint8_t old_footer[VHD_FOOTER_SIZE];
	int status, r;

	_cleanup_close_ int fd = open(disk, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "open `%s`", disk);
	/* Two lcow-disk runs must not interleave on one disk. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return error_set(err, errno, "lock `%s`", disk);
	r = vhd_read_fixed(fd, &info, &file_size, err);
	if (r < 0)
		return error_prefix(err, r, "`%s`", disk);
	uint64_t data_size = info.current_size;
	if (file_only && !has_ext4_magic(fd)) {
		/* An unformatted disk (a guest formats it): nothing to keep. */
		if (new_size == data_size)
			return 0;
		return resize_file_only(fd, disk, &info, 0, new_size, t, err);
	}
	r = ext4_sb_read(fd, 0, &sb, err);
	if (r < 0)
		return error_prefix(err, r, "`%s`", disk);
	if (sb.size > data_size)
		return error_setx(err, EINVAL,
				  "`%s`: ext4 of %" PRIu64 " bytes in %" PRIu64 " of data", disk,
				  sb.size, data_size);
	if (new_size == data_size)
		return 0;
	if (file_only)
		return resize_file_only(fd, disk, &info, sb.size, new_size, t, err);
	if (new_size < data_size) {
		uint64_t used = (sb.blocks_count - sb.free_blocks) * sb.block_size;
		if (new_size < used)
			return error_setx(err, ENOSPC,
					  "refusing to shrink `%s` to %" PRIu64
					  " bytes: %" PRIu64 " bytes of it are in use",
					  disk, new_size, used);
	}

	char *const fsck[] = { "e2fsck", "-fn", (char *)disk, NULL };
	r = run_tool(fsck, t, &status, err);
	if (r < 0)
		return error_prefix(err, r, "`%s` is not clean, repair it first (e2fsck -f)",
				    disk);

	ssize_t n = pread_full(fd, old_footer, sizeof(old_footer), (off_t)data_size);
	if (n != (ssize_t)sizeof(old_footer))
		return error_set(err, n < 0 ? (int)-n : EIO, "read the footer of `%s`", disk);
	if (ftruncate(fd, (off_t)data_size) < 0)
		return error_set(err, errno, "strip the footer of `%s`", disk);
	/* Growing: extend first (a hole), then let resize2fs fill it in. */
	if (new_size > data_size && ftruncate(fd, (off_t)new_size) < 0) {
		r = error_set(err, errno, "extend `%s`", disk);
		goto out_restore_footer;
	}

	char kib[32];
	snprintf(kib, sizeof(kib), "%" PRIu64 "K", new_size / 1024);
	/* -f: e2fsck -fn just found it clean, but cannot record that. */
	char *const resize[] = { "resize2fs", "-f", (char *)disk, kib, NULL };
	r = run_tool(resize, t, &status, err);
	if (r < 0)
		goto out_restore_footer;
	if (new_size < data_size && ftruncate(fd, (off_t)new_size) < 0)
		return error_set(err, errno, "truncate `%s`", disk);

	r = ext4_sb_read(fd, 0, &sb, err);
	if (r < 0)
		return r;
	if (sb.size > new_size)
		return error_setx(err, EIO,
				  "resize2fs left %" PRIu64 " bytes of file system in %" PRIu64,
				  sb.size, new_size);
	r = ext4_sb_set_times(fd, t, EXT4_SB_WTIME, err);
	if (r < 0)
		return error_prefix(err, r, "superblock times");
	/* New inode tables are zeros: keep the grown part sparse. */
	if (new_size > data_size) {
		r = punch_zeros(fd, data_size, new_size, PUNCH_GRAIN, err);
		if (r < 0)
			return r;
	}
	r = vhd_footer_append(fd, new_size, vhd_timestamp(t), info.unique_id, err);
	if (r < 0)
		return r;
	if (fsync(fd) < 0)
		return error_set(err, errno, "sync `%s`", disk);
	return 0;

out_restore_footer:
	/* resize2fs refused before touching anything (or extending
	 * failed): put the disk back as it was. */
	if (ftruncate(fd, (off_t)data_size) == 0)
		pwrite_full(fd, old_footer, sizeof(old_footer), (off_t)data_size);
	return r;
}

/* --- info ---------------------------------------------------------------- */

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static const char *disk_type_name(uint32_t t)
{
	switch (t) {
	case VHD_DISK_TYPE_FIXED:
		return "fixed";
	case VHD_DISK_TYPE_DYNAMIC:
		return "dynamic";
	case VHD_DISK_TYPE_DIFFERENCING:
		return "differencing";
	}
	return "unknown";
}

static int cmd_info(const char *disk, struct error *err)
{
	struct vhd_info v;
	struct ext4_sb_info sb;
	struct error sberr = { 0 };
	uint64_t file_size;
	char uuid[37];

	_cleanup_close_ int fd = open(disk, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "open `%s`", disk);
	int r = vhd_read_fixed(fd, &v, &file_size, err);
	if (r < 0)
		return error_prefix(err, r, "`%s`", disk);
	bool have_sb = ext4_sb_read(fd, 0, &sb, &sberr) == 0;

	FILE *f = stdout;
	fputs("{\"path\":", f);
	json_string(f, disk);
	fprintf(f, ",\"file_size\":%" PRIu64, file_size);
	fputs(",\"footer\":{\"cookie\":", f);
	json_string(f, v.cookie);
	fprintf(f, ",\"features\":%u,\"version\":\"%u.%u\",\"data_offset\":\"0x%016" PRIx64 "\"",
		v.features, v.version >> 16, v.version & 0xffff, v.data_offset);
	fprintf(f, ",\"timestamp\":%u,\"timestamp_unix\":%lld", v.timestamp,
		(long long)v.timestamp + VHD_EPOCH_UNIX);
	fputs(",\"creator_app\":", f);
	json_string(f, v.creator_app);
	fprintf(f, ",\"creator_version\":\"%u.%u\",\"creator_os\":", v.creator_version >> 16,
		v.creator_version & 0xffff);
	json_string(f, v.creator_os);
	fprintf(f, ",\"original_size\":%" PRIu64 ",\"current_size\":%" PRIu64, v.original_size,
		v.current_size);
	fprintf(f, ",\"geometry\":{\"cylinders\":%u,\"heads\":%u,\"sectors_per_track\":%u}",
		v.geometry.cylinders, v.geometry.heads, v.geometry.sectors_per_track);
	fprintf(f, ",\"disk_type\":%u,\"disk_type_name\":\"%s\",\"checksum\":\"0x%08x\"",
		v.disk_type, disk_type_name(v.disk_type), v.checksum);
	uuid_format(v.unique_id, uuid);
	fprintf(f, ",\"unique_id\":\"%s\",\"saved_state\":%u}", uuid, v.saved_state);
	if (have_sb) {
		uuid_format(sb.uuid, uuid);
		fprintf(f,
			",\"ext4\":{\"block_size\":%u,\"blocks\":%" PRIu64 ",\"size\":%" PRIu64
			",\"free_blocks\":%" PRIu64 ",\"inodes\":%u,\"free_inodes\":%u",
			sb.block_size, sb.blocks_count, sb.size, sb.free_blocks, sb.inodes_count,
			sb.free_inodes);
		fprintf(f, ",\"uuid\":\"%s\",\"volume_name\":", uuid);
		json_string(f, sb.volume_name);
		fprintf(f,
			",\"clean\":%s,\"feature_compat\":\"0x%x\",\"feature_incompat\":\"0x%x\""
			",\"feature_ro_compat\":\"0x%x\"}",
			(sb.state & 1) ? "true" : "false", sb.feature_compat, sb.feature_incompat,
			sb.feature_ro_compat);
	} else {
		fputs(",\"ext4\":null,\"ext4_error\":", f);
		json_string(f, error_text(&sberr));
	}
	fputs("}\n", f);
	if (fflush(f) != 0 || ferror(f))
		return error_set(err, errno ? errno : EIO, "write stdout");
	return 0;
}

/* --- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
	enum { OPT_SIZE = 0x100, OPT_UUID, OPT_FILE_ONLY };
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "uuid", required_argument, NULL, OPT_UUID },
		{ "file-only", no_argument, NULL, OPT_FILE_ONLY },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct error err = { 0 };
	const char *size_arg = NULL;
	uint8_t uuid[16];
	bool have_uuid = false;
	bool file_only = false;
	int c;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_SIZE:
			size_arg = optarg;
			break;
		case OPT_UUID:
			if (uuid_parse(optarg, uuid, &err) < 0) {
				fprintf(stderr, "lcow-disk: --uuid: %s\n", error_text(&err));
				return EXIT_USAGE;
			}
			have_uuid = true;
			break;
		case OPT_FILE_ONLY:
			file_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "lcow-disk %s: expected exactly one disk path\n", cmd);
		return EXIT_USAGE;
	}
	const char *disk = argv[optind];
	bool sized = strcmp(cmd, "create") == 0 || strcmp(cmd, "resize") == 0;
	if (!sized && strcmp(cmd, "info") != 0) {
		fprintf(stderr, "lcow-disk: unknown command `%s`\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (sized != (size_arg != NULL) || (have_uuid && strcmp(cmd, "create") != 0) ||
	    (file_only && strcmp(cmd, "resize") != 0)) {
		fprintf(stderr, "lcow-disk %s: %s\n", cmd,
			sized && !size_arg ? "--size SIZE is required" : "option not valid here");
		return EXIT_USAGE;
	}
	uint64_t size = 0;
	if (size_arg && parse_disk_size(size_arg, &size, &err) < 0) {
		fprintf(stderr, "lcow-disk: --size: %s\n", error_text(&err));
		return EXIT_USAGE;
	}
	int64_t sde;
	if (source_date_epoch(&sde, &err) < 0) {
		fprintf(stderr, "lcow-disk: %s\n", error_text(&err));
		return EXIT_USAGE;
	}
	uint32_t t = sde > UINT32_MAX ? UINT32_MAX : (uint32_t)sde;

	initialize_ext2_error_table();
	outfile_handle_signals();

	int r;
	if (strcmp(cmd, "create") == 0)
		r = cmd_create(disk, size, have_uuid ? uuid : NULL, t, &err);
	else if (strcmp(cmd, "resize") == 0)
		r = cmd_resize(disk, size, file_only, t, &err);
	else
		r = cmd_info(disk, &err);
	if (r < 0) {
		fprintf(stderr, "lcow-disk %s: %s\n", cmd, error_text(&err));
		return 1;
	}
	return 0;
}

/* SPDX-License-Identifier: MIT */
/* The fixed-VHD footer byte for byte, its parser, and the disk helpers. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diskutil.h"
#include "lcow/cleanup.h"
#include "lcow/tap.h"
#include "vhd.h"

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static const uint8_t test_id[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

TEST(footer_layout_is_the_spec_s)
{
	struct vhd_footer f;
	const uint64_t size = 4096ULL * 12345;
	vhd_footer_build(&f, size, 777, test_id);
	const uint8_t *p = (const uint8_t *)&f;

	EXPECT_TRUE(memcmp(p, "conectix", 8) == 0);
	EXPECT_EQ(be(p + 8, 4), 2);		/* features */
	EXPECT_EQ(be(p + 12, 4), 0x00010000);	/* version */
	for (int i = 16; i < 24; i++)		/* data offset: none */
		EXPECT_EQ(p[i], 0xff);
	EXPECT_EQ(be(p + 24, 4), 777);		/* timestamp */
	EXPECT_TRUE(memcmp(p + 28, "lcow", 4) == 0);
	EXPECT_EQ(be(p + 32, 4), VHD_CREATOR_VERSION);
	EXPECT_TRUE(memcmp(p + 36, "Wi2k", 4) == 0);
	EXPECT_EQ(be(p + 40, 8), size);		/* original size */
	EXPECT_EQ(be(p + 48, 8), size);		/* current size */
	EXPECT_EQ(be(p + 60, 4), 2);		/* fixed disk */
	EXPECT_TRUE(memcmp(p + 68, test_id, 16) == 0);
	EXPECT_EQ(p[84], 0);			/* saved state */
	for (int i = 85; i < 512; i++)
		EXPECT_EQ(p[i], 0);

	/* Checksum: ones' complement of the byte sum without the field. */
	uint32_t sum = 0;
	for (int i = 0; i < 512; i++)
		if (i < 64 || i >= 68)
			sum += p[i];
	EXPECT_EQ(be(p + 64, 4), (uint32_t)~sum);
}

TEST(geometry_follows_the_spec_algorithm)
{
	struct {
		uint64_t size;
		uint16_t c;
		uint8_t h, s;
	} cases[] = {
		{ 1ULL << 20, 30, 4, 17 },	/* 2048 sectors */
		{ 100ULL << 20, 1003, 12, 17 }, /* 204800 sectors */
		{ 20ULL << 30, 41610, 16, 63 },
		{ 127ULL << 30, 65278, 16, 255 }, /* past 65535 x 16 x 63 */
		{ 3ULL << 40, 65535, 16, 255 },	/* capped */
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct vhd_geometry g = vhd_geometry_for(cases[i].size);
		EXPECT_EQ(g.cylinders, cases[i].c);
		EXPECT_EQ(g.heads, cases[i].h);
		EXPECT_EQ(g.sectors_per_track, cases[i].s);
	}
}

TEST(parse_round_trips)
{
	struct vhd_footer f;
	struct vhd_info info;
	struct error err = { 0 };
	vhd_footer_build(&f, 20ULL << 30, 42, test_id);
	ASSERT_EQ(vhd_footer_parse(&f, sizeof(f), &info, &err), 0);
	EXPECT_STREQ(info.cookie, "conectix");
	EXPECT_EQ(info.features, 2);
	EXPECT_EQ(info.version, 0x00010000);
	EXPECT_TRUE(info.data_offset == UINT64_MAX);
	EXPECT_EQ(info.timestamp, 42);
	EXPECT_STREQ(info.creator_app, "lcow");
	EXPECT_STREQ(info.creator_os, "Wi2k");
	EXPECT_TRUE(info.current_size == (20ULL << 30));
	EXPECT_TRUE(info.original_size == (20ULL << 30));
	EXPECT_EQ(info.geometry.cylinders, 41610);
	EXPECT_EQ(info.disk_type, VHD_DISK_TYPE_FIXED);
	EXPECT_TRUE(memcmp(info.unique_id, test_id, 16) == 0);
}

TEST(parse_rejects_damage)
{
	struct vhd_footer f, g;
	struct vhd_info info;
	struct error err = { 0 };
	vhd_footer_build(&f, 1 << 20, 0, test_id);

	g = f;
	g.cookie[0] = 'C';
	EXPECT_EQ(vhd_footer_parse(&g, sizeof(g), &info, &err), -EINVAL);
	EXPECT_TRUE(strstr(err.msg, "conectix") != NULL);

	g = f;
	g.reserved[100] = 1; /* any byte counts in the checksum */
	EXPECT_EQ(vhd_footer_parse(&g, sizeof(g), &info, &err), -EINVAL);
	EXPECT_TRUE(strstr(err.msg, "checksum") != NULL);

	EXPECT_EQ(vhd_footer_parse(&f, 511, &info, &err), -EINVAL);

	/* A size that is not whole sectors, with a correct checksum. */
	g = f;
	g.current_size = __builtin_bswap64((1 << 20) + 1);
	g.checksum = __builtin_bswap32(vhd_checksum(&g));
	EXPECT_EQ(vhd_footer_parse(&g, sizeof(g), &info, &err), -EINVAL);

	g = f;
	g.disk_type = __builtin_bswap32(7);
	g.checksum = __builtin_bswap32(vhd_checksum(&g));
	EXPECT_EQ(vhd_footer_parse(&g, sizeof(g), &info, &err), -EINVAL);
}

TEST(timestamp_counts_from_2000)
{
	EXPECT_EQ(vhd_timestamp(0), 0);
	EXPECT_EQ(vhd_timestamp(VHD_EPOCH_UNIX), 0);
	EXPECT_EQ(vhd_timestamp(VHD_EPOCH_UNIX + 1), 1);
	EXPECT_EQ(vhd_timestamp(1700000000), 1700000000 - 946684800);
	EXPECT_TRUE(vhd_timestamp(INT64_MAX) == UINT32_MAX);
}

static int temp_file(char *path)
{
	strcpy(path, "/tmp/vhd_test.XXXXXX");
	int fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

TEST(read_fixed_checks_the_file)
{
	char path[64];
	struct vhd_info info;
	struct error err = { 0 };
	uint64_t fsize = 0;
	int fd = temp_file(path);
	ASSERT_GE(fd, 0);

	ASSERT_EQ(ftruncate(fd, 8192), 0);
	ASSERT_EQ(vhd_footer_append(fd, 8192, 5, test_id, &err), 0);
	ASSERT_EQ(vhd_read_fixed(fd, &info, &fsize, &err), 0);
	EXPECT_EQ(fsize, 8192 + 512);
	EXPECT_EQ(info.current_size, 8192);

	/* Data appended after the footer: no footer at the end any more. */
	ASSERT_EQ(pwrite_full(fd, "x", 1, 8192 + 512), 0);
	EXPECT_EQ(vhd_read_fixed(fd, &info, &fsize, &err), -EINVAL);

	/* A footer whose size disagrees with the file. */
	ASSERT_EQ(ftruncate(fd, 4096), 0);
	ASSERT_EQ(vhd_footer_append(fd, 4096, 0, test_id, &err), 0);
	ASSERT_EQ(ftruncate(fd, 4096 + 512 + 512), 0);
	struct vhd_footer f;
	vhd_footer_build(&f, 4096, 0, test_id);
	ASSERT_EQ(pwrite_full(fd, &f, sizeof(f), 4096 + 512), 0);
	EXPECT_EQ(vhd_read_fixed(fd, &info, &fsize, &err), -EINVAL);
	EXPECT_TRUE(strstr(err.msg, "holds") != NULL);

	/* Not whole sectors, too large: refused before writing. */
	EXPECT_EQ(vhd_footer_append(fd, 1000, 0, test_id, &err), -EINVAL);
	EXPECT_EQ(vhd_footer_append(fd, VHD_MAX_SIZE + 512, 0, test_id, &err), -EFBIG);
	close(fd);
}

TEST(parse_size_units)
{
	struct error err = { 0 };
	uint64_t v;
	ASSERT_EQ(parse_size("4096", &v, &err), 0);
	EXPECT_EQ(v, 4096);
	ASSERT_EQ(parse_size("512M", &v, &err), 0);
	EXPECT_EQ(v, 512ULL << 20);
	ASSERT_EQ(parse_size("20G", &v, &err), 0);
	EXPECT_TRUE(v == 20ULL << 30);
	ASSERT_EQ(parse_size("1t", &v, &err), 0);
	EXPECT_TRUE(v == 1ULL << 40);
	ASSERT_EQ(parse_size("64KiB", &v, &err), 0);
	EXPECT_EQ(v, 65536);
	ASSERT_EQ(parse_size("10GB", &v, &err), 0);
	EXPECT_TRUE(v == 10ULL << 30);
	EXPECT_EQ(parse_size("", &v, &err), -EINVAL);
	EXPECT_EQ(parse_size("G", &v, &err), -EINVAL);
	EXPECT_EQ(parse_size("12X", &v, &err), -EINVAL);
	EXPECT_EQ(parse_size("-5", &v, &err), -EINVAL);
	EXPECT_EQ(parse_size("1.5G", &v, &err), -EINVAL);
	EXPECT_EQ(parse_size("99999999999999999999", &v, &err), -ERANGE);
	EXPECT_EQ(parse_size("99999999999P", &v, &err), -ERANGE);
}

TEST(source_date_epoch_parsing)
{
	struct error err = { 0 };
	int64_t v = -1;
	unsetenv("SOURCE_DATE_EPOCH");
	ASSERT_EQ(source_date_epoch(&v, &err), 0);
	EXPECT_EQ(v, 0);
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	ASSERT_EQ(source_date_epoch(&v, &err), 0);
	EXPECT_EQ(v, 1700000000);
	setenv("SOURCE_DATE_EPOCH", "17e8", 1);
	EXPECT_EQ(source_date_epoch(&v, &err), -EINVAL);
	unsetenv("SOURCE_DATE_EPOCH");
}

TEST(digest_is_stable_streaming_and_sensitive)
{
	uint8_t buf[1000], a[16], b[16];
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	struct digest d;
	digest_init(&d, 1);
	digest_update(&d, buf, sizeof(buf));
	digest_final(&d, a);
	/* Any split of the same bytes gives the same digest. */
	for (size_t cut = 0; cut <= sizeof(buf); cut += 37) {
		digest_init(&d, 1);
		digest_update(&d, buf, cut);
		digest_update(&d, buf + cut, sizeof(buf) - cut);
		digest_final(&d, b);
		EXPECT_TRUE(memcmp(a, b, 16) == 0);
	}
	/* One flipped bit, one byte less, another seed: all differ. */
	buf[500] ^= 1;
	digest_init(&d, 1);
	digest_update(&d, buf, sizeof(buf));
	digest_final(&d, b);
	EXPECT_FALSE(memcmp(a, b, 16) == 0);
	buf[500] ^= 1;
	digest_init(&d, 1);
	digest_update(&d, buf, sizeof(buf) - 1);
	digest_final(&d, b);
	EXPECT_FALSE(memcmp(a, b, 16) == 0);
	digest_init(&d, 2);
	digest_update(&d, buf, sizeof(buf));
	digest_final(&d, b);
	EXPECT_FALSE(memcmp(a, b, 16) == 0);
}

TEST(uuid_format_and_parse)
{
	uint8_t u[16], v[16];
	char s[37];
	struct error err = { 0 };
	memcpy(u, test_id, 16);
	uuid_from_digest(u);
	EXPECT_EQ(u[6] >> 4, 8);
	EXPECT_EQ(u[8] >> 6, 2);
	uuid_format(u, s);
	EXPECT_EQ(strlen(s), 36);
	ASSERT_EQ(uuid_parse(s, v, &err), 0);
	EXPECT_TRUE(memcmp(u, v, 16) == 0);
	EXPECT_EQ(uuid_parse("0102", v, &err), -EINVAL);
	EXPECT_EQ(uuid_parse("01020304-0506-0708-090a-0b0c0d0e0f1g", v, &err), -EINVAL);
	EXPECT_EQ(uuid_parse("0102030405-06-0708-090a-0b0c0d0e0f10", v, &err), -EINVAL);
}

TAP_MAIN()

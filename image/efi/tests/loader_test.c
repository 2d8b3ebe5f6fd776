/* SPDX-License-Identifier: MIT */
/*
 * Host unit tests of the loader's pure parts: reading \cmdline, UTF-8 to
 * UTF-16, and where the TSC tag goes.  loader.c is included whole and the
 * few gnu-efi library functions it calls are stubbed; booting it for real
 * is qemu-tests/tests/esp_boot_test.sh.
 */
#include "lcow/tap.h"

#include <stdlib.h>

#include "../loader.c"

/* gnu-efi library stand-ins; efi_main is compiled but never called. */
EFI_BOOT_SERVICES *BS;
EFI_GUID gEfiLoadedImageProtocolGuid, gEfiSimpleFileSystemProtocolGuid;
VOID InitializeLib(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	(void)image, (void)systab;
}
UINTN Print(IN CONST CHAR16 *fmt, ...)
{
	(void)fmt;
	return 0;
}
VOID *AllocatePool(UINTN size)
{
	return malloc(size);
}
VOID FreePool(VOID *p)
{
	free(p);
}
EFI_DEVICE_PATH *FileDevicePath(EFI_HANDLE device, CHAR16 *name)
{
	(void)device, (void)name;
	return NULL;
}

/* ASCII in and out, so that ASSERT_STREQ can compare. */
static CHAR16 *widen(const char *s)
{
	static CHAR16 buf[4096];
	UINTN i = 0;

	for (; s[i]; i++)
		buf[i] = (unsigned char)s[i];
	buf[i] = 0;
	return buf;
}

static const char *narrow(const CHAR16 *s)
{
	static char buf[4096];
	UINTN i = 0;

	for (; s[i]; i++)
		buf[i] = s[i] < 0x80 ? (char)s[i] : '?';
	buf[i] = 0;
	return buf;
}

static UINTN len16(const CHAR16 *s)
{
	UINTN n = 0;

	while (s[n])
		n++;
	return n;
}

/* The splice, with an output buffer exactly as big as efi_main allocates
 * followed by a guard that must survive. */
static const char *splice(const char *cmd, UINT64 t0, UINT64 t1, UINT32 *size)
{
	static CHAR16 out[4096 + TSC_TAG_MAX + 1 + 8];
	CHAR16 *in = widen(cmd);
	UINTN len = len16(in), i;

	for (i = 0; i < 8; i++)
		out[len + TSC_TAG_MAX + 1 + i] = 0xbeef;
	*size = build_options(out, in, len, t0, t1);
	for (i = 0; i < 8; i++)
		if (out[len + TSC_TAG_MAX + 1 + i] != 0xbeef)
			return "OVERFLOW";
	return narrow(out);
}

TEST(tag_goes_before_the_double_dash)
{
	UINT32 size;
	const char *got =
	    splice("initrd=\\initrd.img console=ttyS0 -- /bin/sh -c x", 12, 345, &size);

	ASSERT_STREQ(got,
		     "initrd=\\initrd.img console=ttyS0 lcow.loader_tsc=12,345 -- /bin/sh -c x");
	/* Bytes including the terminating NUL. */
	ASSERT_EQ(size, (strlen(got) + 1) * sizeof(CHAR16));
}

TEST(tag_goes_at_the_end_without_double_dash)
{
	UINT32 size;

	ASSERT_STREQ(splice("initrd=\\initrd.img quiet", 1, 2, &size),
		     "initrd=\\initrd.img quiet lcow.loader_tsc=1,2");
}

TEST(empty_command_line_gets_only_the_tag)
{
	UINT32 size;

	ASSERT_STREQ(splice("", 0, 0, &size), "lcow.loader_tsc=0,0");
	ASSERT_EQ(size, sizeof("lcow.loader_tsc=0,0") * sizeof(CHAR16));
}

TEST(leading_double_dash)
{
	UINT32 size;

	ASSERT_STREQ(splice("-- -e 1 /bin/gcs", 7, 8, &size),
		     "lcow.loader_tsc=7,8 -- -e 1 /bin/gcs");
}

TEST(trailing_double_dash)
{
	UINT32 size;

	ASSERT_STREQ(splice("quiet --", 7, 8, &size), "quiet lcow.loader_tsc=7,8 --");
}

TEST(double_dash_inside_quotes_or_words_is_not_the_end)
{
	UINT32 size;

	ASSERT_STREQ(splice("a=\"x -- y\" --b c-- \"q\" -- sh -c \"-- z\"", 1, 2, &size),
		     "a=\"x -- y\" --b c-- \"q\" lcow.loader_tsc=1,2 -- sh -c \"-- z\"");
}

TEST(tabs_and_newlines_separate_words)
{
	UINT32 size;

	ASSERT_STREQ(splice("a\t--\nb", 1, 2, &size), "a\tlcow.loader_tsc=1,2 --\nb");
}

TEST(largest_tsc_values_fit_the_reserved_room)
{
	UINT32 size;
	const char *got = splice("x", UINT64_MAX, UINT64_MAX, &size);

	ASSERT_STREQ(got, "x lcow.loader_tsc=18446744073709551615,18446744073709551615");
	/* What TSC_TAG_MAX reserves is exactly what the widest tag takes. */
	ASSERT_EQ(strlen(got) - 1, TSC_TAG_MAX);
}

TEST(longest_command_line_stays_within_the_kernel_limit)
{
	static char cmd[CMDLINE_MAX + 1];
	UINT32 size;

	memset(cmd, 'a', CMDLINE_MAX);
	const char *got = splice(cmd, UINT64_MAX, UINT64_MAX, &size);
	ASSERT_EQ(strlen(got), KERNEL_CMDLINE_MAX);
	ASSERT_EQ(CMDLINE_MAX, 1989); /* make-esp.sh checks the same number */
}

TEST(cmdline_loses_trailing_whitespace_and_inner_newlines)
{
	CHAR8 s[] = "a\r\nb\tc\nd \t\r\n\n";

	ASSERT_EQ(tidy_cmdline(s, sizeof(s) - 1), 8);
	ASSERT_TRUE(memcmp(s, "a  b\tc d", 8) == 0);
	ASSERT_EQ(tidy_cmdline((CHAR8 *)" \n", 0), 0);
}

static INTN decode(const char *s, CHAR16 *out)
{
	return utf8_to_utf16((const CHAR8 *)s, strlen(s), out);
}

TEST(utf8_ascii_bmp_and_astral)
{
	CHAR16 out[16];

	ASSERT_EQ(decode("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z", out), 6);
	EXPECT_EQ(out[0], 'a');
	EXPECT_EQ(out[1], 0xe9);
	EXPECT_EQ(out[2], 0x20ac);
	EXPECT_EQ(out[3], 0xd83d); /* U+1F600 as a surrogate pair */
	EXPECT_EQ(out[4], 0xde00);
	EXPECT_EQ(out[5], 'z');
	ASSERT_EQ(decode("\xf4\x8f\xbf\xbf", out), 2); /* U+10FFFF, the last */
	EXPECT_EQ(out[0], 0xdbff);
	EXPECT_EQ(out[1], 0xdfff);
}

TEST(utf8_rejects_malformed)
{
	CHAR16 out[16];

	EXPECT_EQ(decode("\x80", out), -1);		/* stray continuation */
	EXPECT_EQ(decode("a\xc3", out), -1);		/* truncated */
	EXPECT_EQ(decode("\xe2\x82", out), -1);		/* truncated */
	EXPECT_EQ(decode("\xc3\x41", out), -1);		/* bad continuation */
	EXPECT_EQ(decode("\xc0\xaf", out), -1);		/* overlong '/' */
	EXPECT_EQ(decode("\xe0\x80\xaf", out), -1);	/* overlong '/' */
	EXPECT_EQ(decode("\xed\xa0\x80", out), -1);	/* a surrogate */
	EXPECT_EQ(decode("\xf4\x90\x80\x80", out), -1); /* past U+10FFFF */
	EXPECT_EQ(decode("\xff", out), -1);
	EXPECT_EQ(utf8_to_utf16((const CHAR8 *)"a\0b", 3, out), -1); /* NUL */
	/* A sequence cut by the end of the text, not by a bad byte. */
	EXPECT_EQ(utf8_to_utf16((const CHAR8 *)"\xc3\xa9", 1, out), -1);
	EXPECT_EQ(utf8_to_utf16((const CHAR8 *)"\xf0\x9f\x98\x80", 3, out), -1);
}

/* A fake EFI_FILE_PROTOCOL over a byte string, for read_file(). */
struct fake_file {
	EFI_FILE_PROTOCOL proto;
	const char *data;
	UINTN size, pos;
	int opened, closed;
};
static struct fake_file fake;

static EFI_STATUS EFIAPI fake_read(EFI_FILE_PROTOCOL *f, UINTN *n, VOID *buf)
{
	(void)f;
	if (*n > fake.size - fake.pos)
		*n = fake.size - fake.pos;
	memcpy(buf, fake.data + fake.pos, *n);
	fake.pos += *n;
	return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI fake_close(EFI_FILE_PROTOCOL *f)
{
	(void)f;
	fake.closed++;
	return EFI_SUCCESS;
}

static EFI_STATUS EFIAPI fake_open(EFI_FILE_PROTOCOL *root, EFI_FILE_PROTOCOL **f, CHAR16 *name,
				   UINT64 mode, UINT64 attr)
{
	(void)root, (void)attr;
	if (!fake.data || mode != EFI_FILE_MODE_READ || strcmp(narrow(name), "\\cmdline") != 0)
		return EFI_NOT_FOUND;
	fake.opened++;
	fake.proto.Read = fake_read;
	fake.proto.Close = fake_close;
	*f = &fake.proto;
	return EFI_SUCCESS;
}

static EFI_STATUS read_fake(const char *data, UINTN size, CHAR8 *buf, UINTN bufsize, UINTN *len)
{
	EFI_FILE_PROTOCOL root = {.Open = fake_open};

	memset(&fake, 0, sizeof(fake));
	fake.data = data;
	fake.size = size;
	return read_file(&root, CMDLINE_PATH, buf, bufsize, len);
}

TEST(read_file_reads_a_file_that_fits)
{
	CHAR8 buf[8];
	UINTN len = 0;

	ASSERT_EQ(read_fake("abc", 3, buf, sizeof(buf), &len), EFI_SUCCESS);
	ASSERT_EQ(len, 3);
	ASSERT_TRUE(memcmp(buf, "abc", 3) == 0);
	ASSERT_EQ(fake.closed, 1);
}

TEST(read_file_takes_a_file_of_exactly_the_buffer_size)
{
	CHAR8 buf[8];
	UINTN len = 0;

	ASSERT_EQ(read_fake("12345678", 8, buf, sizeof(buf), &len), EFI_SUCCESS);
	ASSERT_EQ(len, 8);
}

TEST(read_file_refuses_a_file_one_byte_too_long)
{
	CHAR8 buf[8];
	UINTN len = 0;

	ASSERT_EQ(read_fake("123456789", 9, buf, sizeof(buf), &len), EFI_BUFFER_TOO_SMALL);
	ASSERT_EQ(len, 0);
	ASSERT_EQ(fake.closed, 1);
}

TEST(read_file_passes_not_found_through)
{
	CHAR8 buf[8];
	UINTN len = 0;

	ASSERT_EQ(read_fake(NULL, 0, buf, sizeof(buf), &len), EFI_NOT_FOUND);
	ASSERT_EQ(fake.opened, 0);
}

TAP_MAIN()

/* SPDX-License-Identifier: MIT */
/*
 * The ESP loader, installed as \EFI\BOOT\BOOTX64.EFI.
 *
 * Does for the utility VM what the Hyper-V firmware does: start \kernel (the
 * bzImage's EFI stub) from the volume this loader was loaded from, with the
 * load options read from \cmdline.  The stub then loads initrd=\initrd.img
 * from that same volume itself.
 *
 * \kernel is loaded by device path (volume handle + file path), not from a
 * buffer: the firmware reads the file, and the kernel's loaded image gets the
 * ESP as its DeviceHandle, which the stub's initrd= loader opens.  That is
 * exactly the state BootThis leaves on Hyper-V, and it is less code.
 *
 * Timestamps for the boot benchmark: the TSC at loader entry and just before
 * StartImage are added to the command line as
 *   lcow.loader_tsc=<entry>,<start>        (decimal TSC ticks)
 * before a standalone "--" (words after it are init's arguments), or at the
 * end.  The kernel takes a dotted name for a parameter of a module that is
 * not built: it neither passes it to init nor complains, and /proc/cmdline
 * shows it.
 *
 * Errors go to ConOut (OVMF splits it onto the serial console), then the
 * loader waits ERROR_STALL_S seconds and returns the status to the firmware.
 */
#include <efi.h>
#include <efilib.h>

#define CMDLINE_PATH L"\\cmdline"
#define KERNEL_PATH L"\\kernel"

/* x86's COMMAND_LINE_SIZE is 2048 including the NUL, and the stub drops
 * what does not fit; fail loudly instead.  TSC_TAG_MAX is the room the tag
 * takes at most: a space, the name, two 20-digit numbers and a comma. */
#define KERNEL_CMDLINE_MAX 2047
#define TSC_TAG L"lcow.loader_tsc="
#define TSC_TAG_MAX (1 + (sizeof(TSC_TAG) / sizeof(CHAR16) - 1) + 20 + 1 + 20)
#define CMDLINE_MAX (KERNEL_CMDLINE_MAX - TSC_TAG_MAX)

#define ERROR_STALL_S 5

static UINT64 read_tsc(void)
{
	UINT32 lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return (UINT64)hi << 32 | lo;
}

static BOOLEAN is_space(UINT32 c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Trailing whitespace goes (an editor's final newline); newlines inside
 * become spaces, because the stub ends the command line at the first one
 * and a \cmdline written as several lines is meant as one.  Returns the new
 * length. */
static UINTN tidy_cmdline(CHAR8 *s, UINTN len)
{
	UINTN i;

	while (len > 0 && is_space(s[len - 1]))
		len--;
	for (i = 0; i < len; i++)
		if (s[i] == '\n' || s[i] == '\r')
			s[i] = ' ';
	return len;
}

/* Read the whole of PATH into BUF (SIZE bytes); EFI_BUFFER_TOO_SMALL when
 * the file does not fit. */
static EFI_STATUS read_file(EFI_FILE_PROTOCOL *root, CHAR16 *path, CHAR8 *buf, UINTN size,
			    UINTN *len)
{
	EFI_FILE_PROTOCOL *f;
	EFI_STATUS st, st_close;
	/* Ask for one byte more than fits to see whether the file is longer. */
	CHAR8 extra;
	UINTN n = size, m = 1;

	st = root->Open(root, &f, path, EFI_FILE_MODE_READ, 0);
	if (EFI_ERROR(st))
		return st;
	st = f->Read(f, &n, buf);
	if (!EFI_ERROR(st) && n == size) {
		st = f->Read(f, &m, &extra);
		if (!EFI_ERROR(st) && m > 0)
			st = EFI_BUFFER_TOO_SMALL;
	}
	st_close = f->Close(f);
	if (EFI_ERROR(st))
		return st;
	*len = n;
	return st_close;
}

/* UTF-8 to UTF-16, which the stub converts back.  OUT has room for N units
 * (a unit per byte is the worst case).  Returns the number of units, or -1
 * for a NUL byte or a malformed, overlong or surrogate sequence. */
static INTN utf8_to_utf16(const CHAR8 *s, UINTN n, CHAR16 *out)
{
	UINTN i = 0, o = 0, more, k;
	UINT32 c, min;

	while (i < n) {
		c = s[i];
		if (c == 0)
			return -1;
		if (c < 0x80) {
			more = 0, min = 0;
		} else if ((c & 0xe0) == 0xc0) {
			more = 1, min = 0x80, c &= 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			more = 2, min = 0x800, c &= 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			more = 3, min = 0x10000, c &= 0x07;
		} else {
			return -1;
		}
		if (n - i - 1 < more)
			return -1;
		for (k = 1; k <= more; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -1;
			c = c << 6 | (s[i + k] & 0x3f);
		}
		if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
			return -1;
		i += more + 1;
		if (c >= 0x10000) {
			c -= 0x10000;
			out[o++] = 0xd800 | c >> 10;
			out[o++] = 0xdc00 | (c & 0x3ff);
		} else {
			out[o++] = c;
		}
	}
	return o;
}

/* Where the kernel's own parameters end: the start of the first word that
 * is exactly "--" outside double quotes (as the kernel's parse_args splits
 * words), else LEN. */
static UINTN kernel_args_end(const CHAR16 *s, UINTN len)
{
	UINTN i = 0, start;
	BOOLEAN quoted;

	while (i < len) {
		while (i < len && is_space(s[i]))
			i++;
		start = i;
		quoted = FALSE;
		while (i < len && (quoted || !is_space(s[i]))) {
			if (s[i] == '"')
				quoted = !quoted;
			i++;
		}
		if (i - start == 2 && s[start] == '-' && s[start + 1] == '-')
			return start;
	}
	return len;
}

static CHAR16 *put_n(CHAR16 *p, const CHAR16 *s, UINTN n)
{
	while (n--)
		*p++ = *s++;
	return p;
}

static CHAR16 *put_u64(CHAR16 *p, UINT64 v)
{
	CHAR16 digits[20];
	UINTN n = 0;

	do {
		digits[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (n)
		*p++ = digits[--n];
	return p;
}

/* OUT = CMD with the TSC tag spliced in; room for LEN + TSC_TAG_MAX + 1
 * units.  Returns the size in bytes including the NUL. */
static UINT32 build_options(CHAR16 *out, const CHAR16 *cmd, UINTN len, UINT64 tsc_entry,
			    UINT64 tsc_start)
{
	UINTN at = kernel_args_end(cmd, len);
	CHAR16 *p = put_n(out, cmd, at);

	if (at == len && len > 0)
		*p++ = ' ';
	p = put_n(p, TSC_TAG, sizeof(TSC_TAG) / sizeof(CHAR16) - 1);
	p = put_u64(p, tsc_entry);
	*p++ = ',';
	p = put_u64(p, tsc_start);
	if (at < len)
		*p++ = ' ';
	p = put_n(p, cmd + at, len - at);
	*p++ = 0;
	return (UINT32)((p - out) * sizeof(CHAR16));
}

/* Only efi_main reports: WHAT names the step, DETAIL (may be empty) adds to
 * it.  The pause lets a person read it before the firmware moves on. */
static EFI_STATUS fail(EFI_STATUS st, const CHAR16 *what, const CHAR16 *detail)
{
	Print(L"lcow-loader: error: %s%s: %r\n", what, detail, st);
	Print(L"lcow-loader: returning to the firmware in %d s\n", ERROR_STALL_S);
	BS->Stall(ERROR_STALL_S * 1000 * 1000);
	return st;
}

/* Called by gnu-efi's crt0, which has already turned the firmware's ms_abi
 * call into a SysV one: no EFIAPI here. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *systab)
{
	UINT64 tsc_entry = read_tsc();
	EFI_LOADED_IMAGE_PROTOCOL *self, *kernel;
	EFI_SIMPLE_FILE_SYSTEM_PROTOCOL *fs;
	EFI_FILE_PROTOCOL *root;
	EFI_DEVICE_PATH *path;
	EFI_HANDLE kernel_image = NULL;
	/* Room for trailing whitespace (an editor's newline, CRLF) past the
	 * limit, which is trimmed before the length is checked. */
	CHAR8 raw[CMDLINE_MAX + 16];
	CHAR16 *cmd = NULL, *opts = NULL, *exit_data = NULL;
	UINTN len = 0, exit_size = 0;
	INTN n;
	EFI_STATUS st;

	InitializeLib(image, systab);

	st = BS->HandleProtocol(image, &LoadedImageProtocol, (void **)&self);
	if (EFI_ERROR(st))
		return fail(st, L"the loader's own loaded image", L"");
	st = BS->HandleProtocol(self->DeviceHandle, &FileSystemProtocol, (void **)&fs);
	if (EFI_ERROR(st))
		return fail(st, L"no file system on the boot volume", L"");
	st = fs->OpenVolume(fs, &root);
	if (EFI_ERROR(st))
		return fail(st, L"open the boot volume", L"");
	st = read_file(root, CMDLINE_PATH, raw, sizeof(raw), &len);
	root->Close(root);
	if (st == EFI_NOT_FOUND)
		return fail(st, L"no file on the boot volume: ", CMDLINE_PATH);
	if (st == EFI_SUCCESS)
		len = tidy_cmdline(raw, len);
	if (st == EFI_BUFFER_TOO_SMALL || (st == EFI_SUCCESS && len > CMDLINE_MAX))
		return fail(EFI_BAD_BUFFER_SIZE, L"longer than the kernel takes: ", CMDLINE_PATH);
	if (EFI_ERROR(st))
		return fail(st, L"read ", CMDLINE_PATH);

	/* Both buffers before LoadImage: between the second TSC reading and
	 * StartImage there is only the splice. */
	cmd = AllocatePool((len + 1) * sizeof(CHAR16));
	opts = AllocatePool((len + TSC_TAG_MAX + 1) * sizeof(CHAR16));
	if (!cmd || !opts) {
		st = fail(EFI_OUT_OF_RESOURCES, L"allocate the command line", L"");
		goto out_free;
	}
	n = utf8_to_utf16(raw, len, cmd);
	if (n < 0) {
		st = fail(EFI_INVALID_PARAMETER, L"not UTF-8 text: ", CMDLINE_PATH);
		goto out_free;
	}

	path = FileDevicePath(self->DeviceHandle, KERNEL_PATH);
	if (!path) {
		st = fail(EFI_OUT_OF_RESOURCES, L"device path of ", KERNEL_PATH);
		goto out_free;
	}
	st = BS->LoadImage(FALSE, image, path, NULL, 0, &kernel_image);
	FreePool(path);
	if (EFI_ERROR(st)) {
		/* A refused signature still leaves an image handle behind. */
		if (kernel_image)
			BS->UnloadImage(kernel_image);
		st = fail(st, st == EFI_NOT_FOUND ? L"no file on the boot volume: " : L"LoadImage ",
			  KERNEL_PATH);
		goto out_free;
	}
	st = BS->HandleProtocol(kernel_image, &LoadedImageProtocol, (void **)&kernel);
	if (EFI_ERROR(st)) {
		st = fail(st, L"the loaded image of ", KERNEL_PATH);
		goto out_unload;
	}

	kernel->LoadOptionsSize = build_options(opts, cmd, (UINTN)n, tsc_entry, read_tsc());
	kernel->LoadOptions = opts;
	st = BS->StartImage(kernel_image, &exit_size, &exit_data);

	/* Only a failed stub comes back; its Exit() unloaded it. */
	if (exit_data) {
		Print(L"lcow-loader: %s says: %s\n", KERNEL_PATH, exit_data);
		FreePool(exit_data);
	}
	st = fail(EFI_ERROR(st) ? st : EFI_LOAD_ERROR, L"StartImage ", KERNEL_PATH);
	goto out_free;

out_unload:
	BS->UnloadImage(kernel_image);
out_free:
	if (opts)
		FreePool(opts);
	if (cmd)
		FreePool(cmd);
	return st;
}

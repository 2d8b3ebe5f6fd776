#!/usr/bin/env python3
"""Print a canonical listing of a root filesystem image, one entry a line:
   PATH TYPE MODE UID GID SIZE-OR-TARGET
for a cpio/tar archive, plain, gzip or LZ4-legacy (read through bsdtar's
mtree writer), or an ext4 image (read through debugfs), so two images can be
compared with diff.
lost+found, which mke2fs-style images always have, is left out."""
import subprocess
import sys

TYPES = {0o040000: "dir", 0o100000: "file", 0o120000: "link",
         0o020000: "char", 0o060000: "block", 0o010000: "fifo", 0o140000: "sock"}


# The LZ4 legacy frame (`lz4 -l`, what the kernel reads for an LZ4 initrd)
# starts with 0x184C2102, little-endian.
LZ4_LEGACY_MAGIC = bytes.fromhex("02214c18")


def archive_bytes(path):
    """The archive to read: an LZ4-legacy initrd is decompressed with the
    reference lz4 tool (not every libarchive reads that framing); anything
    else (plain, gzip) goes to bsdtar as it is."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == LZ4_LEGACY_MAGIC:
        return subprocess.run(["lz4", "-dc", path], check=True, capture_output=True).stdout
    with open(path, "rb") as f:
        return f.read()


def from_archive(path):
    out = subprocess.run(["bsdtar", "-cf", "-", "--format=mtree",
                          "--options=mtree:all,!time,!sha256,!md5,!rmd160,!sha1,!sha384,!sha512,!flags,!uname,!gname,!nlink,!device,!resdevice,!inode",
                          "@-"], input=archive_bytes(path), check=True,
                         capture_output=True).stdout.decode()
    rows = []
    for line in out.splitlines():
        if not line or line.startswith("#") or line.startswith("/set"):
            continue
        parts = line.split()
        name = parts[0]
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        name = name[2:] if name.startswith("./") else name
        if name == ".":
            continue
        name = decode_mtree(name)
        typ = kv.get("type", "file")
        extra = decode_mtree(kv["link"]) if typ == "link" else (kv.get("size", "0") if typ == "file" else "-")
        rows.append((name, typ, int(kv["mode"], 8), int(kv["uid"]), int(kv["gid"]), extra))
    return rows


def decode_mtree(s):
    """mtree escapes unusual bytes as \\ooo."""
    out, i = bytearray(), 0
    b = s.encode()
    while i < len(b):
        if b[i:i + 1] == b"\\" and i + 3 < len(b) + 0 and b[i + 1:i + 4].isdigit():
            out.append(int(b[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(b[i])
            i += 1
    return out.decode()


def debugfs(img, req):
    return subprocess.run(["debugfs", "-R", req, img], check=True,
                          capture_output=True, text=True).stdout


def from_ext4(img):
    rows = []
    todo = [""]
    while todo:
        d = todo.pop()
        for line in debugfs(img, "ls -p /" + d).splitlines():
            f = line.split("/")
            if len(f) < 7:
                continue
            ino, mode, uid, gid, name, size = f[1], int(f[2], 8), int(f[3]), int(f[4]), f[5], f[6]
            if name in (".", "..") or (d == "" and name == "lost+found"):
                continue
            path = (d + "/" + name) if d else name
            typ = TYPES.get(mode & 0o170000, "?")
            extra = "-"
            if typ == "file":
                extra = size
            elif typ == "link":
                st = debugfs(img, "stat <%s>" % ino)
                target = [l for l in st.splitlines() if "Fast link dest:" in l]
                if target:
                    extra = target[0].split("Fast link dest:", 1)[1].strip().strip('"')
                else:
                    extra = debugfs(img, "cat <%s>" % ino)
            elif typ == "dir":
                todo.append(path)
            rows.append((path, typ, mode & 0o7777, uid, gid, extra))
    return rows


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("archive", "ext4"):
        print("usage: listing.py archive|ext4 FILE", file=sys.stderr)
        return 2
    rows = from_archive(sys.argv[2]) if sys.argv[1] == "archive" else from_ext4(sys.argv[2])
    for r in sorted(rows):
        typ_mode = r[2] & 0o7777
        print("%s %s %04o %d %d %s" % (r[0], r[1], typ_mode, r[3], r[4], r[5]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""An independent reader of the fixed-VHD footer (the last 512 bytes).

usage: vhdcheck.py FILE

Parses the footer with struct, straight from the VHD specification (not
from the C code under test), checks everything a fixed disk must satisfy,
and prints the fields as JSON.  Exit status 1 and the reasons on stderr
when anything is wrong.
"""
import json
import os
import struct
import sys

FOOTER = struct.Struct(">8sIIQI4sI4sQQHBBII16sB427s")
assert FOOTER.size == 512
VHD_EPOCH = 946684800


def spec_geometry(size):
    """CHS per the VHD specification's appendix."""
    total = size // 512
    total = min(total, 65535 * 16 * 255)
    if total >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cth = total // spt
    else:
        spt = 17
        cth = total // spt
        heads = max((cth + 1023) // 1024, 4)
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = total // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = total // spt
    return cth // heads, heads, spt


def check(path):
    problems = []
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        f.seek(size - 512)
        raw = f.read(512)
    (cookie, features, version, data_offset, timestamp, app, app_ver, host_os,
     orig, cur, cyl, heads, spt, disk_type, checksum, uid, saved,
     reserved) = FOOTER.unpack(raw)
    zeroed = raw[:64] + b"\0\0\0\0" + raw[68:]
    want_sum = (~sum(zeroed)) & 0xFFFFFFFF

    def expect(cond, what):
        if not cond:
            problems.append(what)

    expect(cookie == b"conectix", f"cookie {cookie!r}")
    expect(features == 2, f"features {features:#x}")
    expect(version == 0x00010000, f"version {version:#x}")
    expect(data_offset == 0xFFFFFFFFFFFFFFFF, f"data offset {data_offset:#x}")
    expect(disk_type == 2, f"disk type {disk_type} (want 2, fixed)")
    expect(checksum == want_sum, f"checksum {checksum:#x}, recomputed {want_sum:#x}")
    expect(cur == size - 512, f"current size {cur}, file holds {size - 512}")
    expect(orig == cur, f"original size {orig} != current size {cur}")
    expect(cur % 512 == 0, f"current size {cur} not whole sectors")
    expect(saved == 0, f"saved state {saved}")
    expect(reserved == bytes(427), "reserved bytes not zero")
    expect((cyl, heads, spt) == spec_geometry(cur),
           f"geometry {cyl}/{heads}/{spt}, spec says {spec_geometry(cur)}")
    info = {
        "cookie": cookie.decode("latin-1"),
        "features": features,
        "version": version,
        "timestamp": timestamp,
        "timestamp_unix": timestamp + VHD_EPOCH,
        "creator_app": app.decode("latin-1"),
        "creator_version": app_ver,
        "creator_os": host_os.decode("latin-1"),
        "original_size": orig,
        "current_size": cur,
        "geometry": [cyl, heads, spt],
        "disk_type": disk_type,
        "checksum": checksum,
        "unique_id": uid.hex(),
        "saved_state": saved,
        "file_size": size,
    }
    return info, problems


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    info, problems = check(sys.argv[1])
    print(json.dumps(info, sort_keys=True))
    for p in problems:
        print(f"vhdcheck: {sys.argv[1]}: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

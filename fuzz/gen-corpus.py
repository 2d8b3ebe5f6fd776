#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpora under fuzz/corpus/<target>/ (deterministic).

    fuzz/gen-corpus.py [--check]

The seeds are checked in; run this after changing it.  --check compares
instead of writing and exits 1 when a checked-in seed is missing or stale.
Input formats are described at the top of each fuzz/<target>.c.
"""
import gzip
import io
import json
import os
import struct
import sys
import tarfile

ROOT = os.path.dirname(os.path.abspath(__file__))
NULL_ID = "00000000-0000-0000-0000-000000000000"
ACT = "b5c1a2f0-0000-4000-8000-00000000cafe"
seeds = {}


def add(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    seeds.setdefault(target, {})[name] = data


def js(o):
    return json.dumps(o, separators=(",", ":"))


# --- bridge ----------------------------------------------------------------
# Letters: 'a' Create .. 'm' DeleteContainerState (message Id 1..13).
LETTER = {name: chr(ord("a") + i) for i, name in enumerate(
    ["Create", "Start", "ShutdownGraceful", "ShutdownForced", "ExecuteProcess",
     "WaitForProcess", "SignalProcess", "ResizeConsole", "GetProperties",
     "ModifySettings", "NegotiateProtocol", "DumpStacks", "DeleteContainerState"])}
TYPE = {name: 0x10100001 | (ord(l) - ord("a") + 1) << 8 for name, l in LETTER.items()}

OCI_SPEC = {
    "ociVersion": "1.1.0",
    "process": {
        "terminal": False, "user": {"uid": 1000, "gid": 1000, "additionalGids": [10, 29]},
        "args": ["/bin/sh", "-c", "echo hi"], "env": ["PATH=/usr/bin:/bin", "TERM=xterm"],
        "cwd": "/", "capabilities": {
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN", "CAP_KILL"],
            "inheritable": [], "ambient": []},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": True, "oomScoreAdj": 100,
        "consoleSize": {"height": 24, "width": 80}},
    "root": {"path": "/run/gcs/c/c1/rootfs", "readonly": False},
    "hostname": "c1",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/data", "type": "bind", "source": "/run/mounts/m0",
         "options": ["rbind", "rprivate", "ro"]}],
    "linux": {
        "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
                       {"type": "network", "path": "/proc/1/ns/net"}],
        "resources": {
            "devices": [{"allow": False, "access": "rwm"},
                        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                        {"allow": True, "type": "c", "major": 136, "access": "rw"}],
            "memory": {"limit": 536870912, "swap": 1073741824, "reservation": 268435456},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
            "pids": {"limit": 100}, "blockIO": {"weight": 500}},
        "maskedPaths": ["/proc/kcore", "/proc/keys"],
        "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"],
        "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                     "fileMode": 438, "uid": 0, "gid": 0}],
        "sysctl": {"net.ipv4.ip_forward": "1"},
        "rootfsPropagation": "rslave",
        "seccomp": {
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [
                {"names": ["read", "write", "exit_group", "futex"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0,
                           "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
                 "args": [{"index": 0, "value": 40, "op": "SCMP_CMP_GE"},
                          {"index": 1, "value": 5, "op": "SCMP_CMP_LT"}]},
                {"names": ["ptrace"], "action": "SCMP_ACT_KILL"}]}},
}


def create_body(cid, spec=OCI_SPEC):
    cfg = {"SchemaVersion": {"Major": 2, "Minor": 1}, "OciBundlePath": "/run/gcs/c/" + cid,
           "OciSpecification": spec, "ScratchDirPath": "/run/scratch/" + cid}
    return {"ContainerId": cid, "ActivityId": ACT, "ContainerConfig": js(cfg)}


PARAMS = {"CommandArgs": ["/bin/sh", "-c", "ls"], "WorkingDirectory": "/",
          "Environment": {"PATH": "/bin"}, "EmulateConsole": False,
          "CreateStdInPipe": True, "CreateStdOutPipe": True, "CreateStdErrPipe": True}
RELAY = {"StdIn": 0x40000001, "StdOut": 0x40000002, "StdErr": 0x40000003}

MODIFY = {
    "MappedVirtualDisk": {"MountPath": "/run/mounts/scsi/m0", "Lun": 0, "Controller": 0,
                          "ReadOnly": False, "Options": ["noatime"], "EnsureFilesystem": True,
                          "Filesystem": "ext4"},
    "MappedDirectory": {"MountPath": "/run/mounts/p0", "Port": 564, "ShareName": "s0",
                        "ReadOnly": True},
    "VPMemDevice": {"DeviceNumber": 0, "MountPath": "/run/layers/p0"},
    "CombinedLayers": {"ContainerId": "fuzz", "ContainerRootPath": "/run/c1/rootfs",
                       "Layers": [{"Path": "/run/layers/p0"}, {"Path": "/run/layers/p1"}],
                       "ScratchPath": "/run/scratch/c1"},
    "SCSIDevice": {"Controller": 0, "Lun": 1},
    "Network": {"AdapterInstanceId": "a", "MacAddress": "00-15-5D-00-00-01"},
    "VPCIDevice": {"VMBusGUID": "00000000-0000-0000-0000-000000000001"},
    "ContainerConstraints": {"Linux": {"memory": {"limit": 1048576}, "cpu": {"shares": 2}}},
    "SecurityPolicy": {"EncodedSecurityPolicy": ""},
    "PodCgroupMemoryLimit": None,
}

requests = {
    "Create": [create_body("c1"), create_body("fuzz"),
               {"ContainerId": "c2", "ContainerConfig": js({"SchemaVersion": {"Major": 2, "Minor": 0}})}],
    "Start": [{"ContainerId": "fuzz"}, {"ContainerId": NULL_ID}],
    "ShutdownGraceful": [{"ContainerId": "fuzz"}, {"ContainerId": NULL_ID, "ActivityId": ACT}],
    "ShutdownForced": [{"ContainerId": "fuzz"}, {"ContainerId": NULL_ID}],
    "ExecuteProcess": [
        {"ContainerId": "fuzz", "Settings": {"ProcessParameters": js(PARAMS),
                                              "VsockStdioRelaySettings": RELAY}},
        {"ContainerId": NULL_ID, "Settings": {"ProcessParameters": js(
            dict(PARAMS, CreateInUtilityVM=True, CommandLine="/bin/true"))}},
        {"ContainerId": "fuzz", "Settings": {"ProcessParameters": js(
            {"OciProcess": OCI_SPEC["process"]})}}],
    "WaitForProcess": [{"ContainerId": "fuzz", "ProcessId": 2},
                       {"ContainerId": "fuzz", "ProcessId": 1, "TimeoutInMs": 4294967295},
                       {"ContainerId": NULL_ID, "ProcessId": 3, "TimeoutInMs": 10}],
    "SignalProcess": [{"ContainerId": "fuzz", "ProcessId": 1, "Options": {"Signal": 15}},
                      {"ContainerId": NULL_ID, "ProcessId": 3, "Options": {"Signal": 0}}],
    "ResizeConsole": [{"ContainerId": "fuzz", "ProcessId": 1, "Height": 24, "Width": 80}],
    "GetProperties": [{"ContainerId": "fuzz", "Query": js({"PropertyTypes": ["ProcessList", "Statistics"]})},
                      {"ContainerId": "fuzz", "Query": ""}],
    "ModifySettings": [{"ContainerId": NULL_ID, "ActivityId": ACT,
                        "Request": {"ResourceType": rt, "RequestType": op, "Settings": s}}
                       for rt, s in MODIFY.items() for op in ("Add", "Remove")]
    + [{"ContainerId": "fuzz", "Request": {"ResourceType": "ContainerConstraints",
                                            "RequestType": "Update",
                                            "Settings": MODIFY["ContainerConstraints"]}}],
    "NegotiateProtocol": [{"MinimumVersion": 4, "MaximumVersion": 4},
                          {"MinimumVersion": 3, "MaximumVersion": 9, "ContainerId": NULL_ID}],
    "DumpStacks": [{"ContainerId": NULL_ID}],
    "DeleteContainerState": [{"ContainerId": "fuzz"}, {"ContainerId": "gone"}],
}


def frame(type_, id_, body):
    if isinstance(body, str):
        body = body.encode()
    return struct.pack("<IIQ", type_, 16 + len(body), id_) + body


NEG = js({"MaximumVersion": 4, "MinimumVersion": 4})
for name, bodies in requests.items():
    for i, b in enumerate(bodies):
        add("bridge", f"{name.lower()}-{i}", "S" + LETTER[name] + js(b) + "\n")
        # The same as raw bytes on the wire.
        add("bridge", f"raw-{name.lower()}-{i}", b"R" + frame(TYPE["NegotiateProtocol"], 1, NEG)
            + frame(TYPE[name], 2, js(b)))
# A session: several requests, then the VM goes away.
add("bridge", "session", "S" + "\n".join([
    "l" + js({"ContainerId": NULL_ID}),
    "f" + js({"ContainerId": "fuzz", "ProcessId": 1, "TimeoutInMs": 100}),
    "i" + js(requests["GetProperties"][0]),
    "m" + js({"ContainerId": "fuzz"}),
    "c" + js({"ContainerId": NULL_ID}),
]))
add("bridge", "no-negotiation", "Q" + "b" + js({"ContainerId": "fuzz"}) + "\nk" + NEG + "\nk" + NEG)
add("bridge", "unknown-and-response", "Sz{}\nA{}\n\x01{}\nl")
add("bridge", "bad-json", "Sl{\"ContainerId\":\nl[]\nlnull\nl{\"ActivityId\":7}\nl\"x\"")
add("bridge", "raw-bad-size", b"R" + frame(TYPE["NegotiateProtocol"], 1, NEG)
    + struct.pack("<IIQ", TYPE["DumpStacks"], 8, 2))
add("bridge", "raw-huge-size", b"R" + struct.pack("<IIQ", TYPE["DumpStacks"], 0x10001, 2))
add("bridge", "raw-truncated", b"R" + frame(TYPE["NegotiateProtocol"], 1, NEG)[:30])
add("bridge", "raw-notification", b"R" + frame(TYPE["NegotiateProtocol"], 1, NEG)
    + frame(0x30100101, 0, js({"ContainerId": "fuzz", "Type": "UnexpectedExit"})))

# --- oci ---------------------------------------------------------------------
add("oci", "full", json.dumps(OCI_SPEC, indent=1))
add("oci", "minimal", js({"root": {"path": "rootfs"}, "process": {"args": ["/bin/true"]}}))
add("oci", "empty", "{}")
moby = {
    "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                 "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
    "syscalls": [
        {"names": ["accept", "bind", "read"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["bpf", "perf_event_open"], "action": "SCMP_ACT_ALLOW",
         "includes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
         "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
        {"names": ["ioctl"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"},
         "args": [{"index": 1, "value": 21505, "op": "SCMP_CMP_NE"},
                  {"index": 2, "value": 4294967296, "op": "SCMP_CMP_LE"}]},
        {"names": ["arm_fadvise64_64"], "action": "SCMP_ACT_ALLOW",
         "includes": {"arches": ["arm"]}},
        {"names": ["kill"], "action": "SCMP_ACT_TRACE",
         "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_GT"}]},
        {"names": ["tgkill"], "action": "SCMP_ACT_LOG"},
        {"names": ["mount"], "action": "SCMP_ACT_NOTIFY"},
    ]}
add("oci", "seccomp-moby", js({"root": {"path": "/r"}, "process": {
    "args": ["/x"], "capabilities": {"bounding": ["CAP_SYS_ADMIN"]}}, "linux": {"seccomp": moby}}))
add("oci", "devices-and-user", js({"root": {"path": "/r"}, "process": {
    "args": ["/x"], "user": {"uid": 0, "gid": 0, "username": "app:wheel"}},
    "linux": {"resources": {"devices": [
        {"allow": True, "type": "b", "major": 8, "minor": -1, "access": "r"},
        {"allow": False, "type": "a"}, {"allow": True, "access": "m"}]}}}))
add("oci", "bad-types", js({"process": {"args": "sh", "cwd": 7}, "mounts": {},
                             "linux": {"namespaces": [{"type": "user"}]}}))
add("oci", "mount-options", js({"root": {"path": "/r"}, "mounts": [
    {"destination": "/a", "type": "overlay", "source": "overlay",
     "options": ["lowerdir=/l1:/l2", "upperdir=/u", "workdir=/w", "rshared", "remount",
                 "nosymfollow", "tmpcopyup", "rro"]},
    {"destination": "relative", "options": [""]}]}))

# --- kmsg ----------------------------------------------------------------------
add("kmsg", "oom", b"3,1042,53210456,-,caller=T17;Out of memory: Killed process 312 (awk)\n"
    b" SUBSYSTEM=memory\n DEVICE=+memory:x\n")
add("kmsg", "user-cont", b"12,7,100,c;  hello \n")
add("kmsg", "empty-msg", b"6,0,0,-;")
add("kmsg", "escaped", b"4,9,99,-;bad byte \\x1b here\n")
add("kmsg", "no-semicolon", b"3,1,2,-")
add("kmsg", "huge-seq", b"3,99999999999999999999,2,-;m")


# --- dhcp ----------------------------------------------------------------------
def dhcp_reply(type_, opts, yiaddr=bytes([192, 0, 2, 50]), op=2):
    b = bytearray(240)
    b[0], b[1], b[2] = op, 1, 6
    b[4:8] = bytes([0xde, 0xad, 0xbe, 0xef])
    b[16:20] = yiaddr
    b[28:34] = bytes([2, 0, 0, 0, 0xdc, 1])
    b[236:240] = bytes([99, 130, 83, 99])
    return bytes(b) + bytes([53, 1, type_]) + opts + bytes([255])


GOOD_OPTS = bytes([54, 4, 192, 0, 2, 1, 1, 4, 255, 255, 255, 0, 3, 4, 192, 0, 2, 1,
                   6, 8, 192, 0, 2, 53, 198, 51, 100, 53, 15, 9]) + b"lcow.test" + \
    bytes([51, 4, 0, 0, 14, 16, 26, 2, 5, 220])
add("dhcp", "offer", dhcp_reply(2, GOOD_OPTS))
add("dhcp", "ack", dhcp_reply(5, GOOD_OPTS))
add("dhcp", "nak", dhcp_reply(6, b""))
add("dhcp", "slirp-restricted", dhcp_reply(2, bytes([54, 4, 10, 0, 2, 2, 1, 4, 255, 255, 255, 0,
                                                     51, 4, 0, 1, 81, 128]), bytes([10, 0, 2, 15])))
add("dhcp", "pad-and-overrun", dhcp_reply(5, bytes([0, 0, 54, 4, 192, 0, 2, 1, 6, 200, 1])))
add("dhcp", "request-echo", dhcp_reply(3, GOOD_OPTS, op=2))


# --- vhd -----------------------------------------------------------------------
def vhd_footer(size, disk_type=2, data_offset=0xFFFFFFFFFFFFFFFF, version=0x00010000):
    f = bytearray(512)
    f[0:8] = b"conectix"
    struct.pack_into(">IIQI", f, 8, 2, version, data_offset, 0x2e5f3c00)
    f[28:32] = b"lcow"
    struct.pack_into(">I", f, 32, 0x00010000)
    f[36:40] = b"Wi2k"
    struct.pack_into(">QQHBBI", f, 40, size, size, 1024, 16, 63, disk_type)
    f[68:84] = bytes(range(16))
    struct.pack_into(">I", f, 64, (~sum(f)) & 0xFFFFFFFF)
    return bytes(f)


add("vhd", "fixed-1k", b"\x00" + bytes(1024) + vhd_footer(1024))
add("vhd", "fixed-empty", b"\x00" + vhd_footer(0))
add("vhd", "dynamic", b"\x00" + vhd_footer(0, disk_type=3, data_offset=512))
add("vhd", "size-mismatch", b"\x00" + bytes(512) + vhd_footer(4096))
add("vhd", "fix-checksum", b"\x01" + vhd_footer(512, version=0x00020000)[:64] + bytes(4)
    + vhd_footer(512)[68:])
add("vhd", "short", b"\x00conectix")


# --- mkinitrd ------------------------------------------------------------------
LIST = """# the initrd's shape
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
nod /dev/sda 0660 0 6 b 8 0
dir /bin 0755 0 0
file /bin/a a 0755 0 0 /bin/a2 /sbin/a3
file /init d/c 0755 0 0
file /empty empty 0644 0 0
file /usr/lib/big big 0644 1000 1000
slink /bin/sh a 0777 0 0
pipe /run/fifo 0644 0 0
sock /run/sock 0755 0 0
"""
add("mkinitrd", "cpio", b"\x00" + LIST.encode())
add("mkinitrd", "cpio-gzip", b"\x02" + LIST.encode())
add("mkinitrd", "cpio-lz4", b"\x08" + LIST.encode())
add("mkinitrd", "tar", b"\x01" + LIST.replace("sock /run/sock 0755 0 0\n", "").encode())
add("mkinitrd", "tar-gzip-maxtime", b"\x07" + b"dir a 0700 4294967294 0\nfile a/b//./c a 4755 1 2\n")
add("mkinitrd", "errors", b"\x00" + b"""file /x nonexistent 0644 0 0
dir /a/../b 0755 0 0
nod /n 0600 0 0 x 5000 1
slink /s 0777 0 0
bogus line here
dir /dup 0755 0 0
dir /dup 0755 0 0
""")
add("mkinitrd", "below-file", b"\x00file /f a 0644 0 0\nfile /f/g a 0644 0 0\n")

# --- tar2ext4 ------------------------------------------------------------------


def tar_bytes(members, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for info, data in members:
            info.mtime = info.mtime or 1700000000
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = buf.getvalue()
    # Drop the record padding: two zero blocks end the archive.
    end = len(raw.rstrip(b"\0"))
    end = (end + 511) // 512 * 512
    return raw[:end] + b"\0" * 1024


def ti(name, type_=tarfile.REGTYPE, size=0, mode=0o644, **kw):
    t = tarfile.TarInfo(name)
    t.type = type_
    t.size = size
    t.mode = mode
    for k, v in kw.items():
        setattr(t, k, v)
    return t


def reg(name, data, **kw):
    return (ti(name, size=len(data), **kw), data)


LAYER = [
    (ti("etc/", tarfile.DIRTYPE, mode=0o755), None),
    reg("etc/hostname", b"lcow\n"),
    reg("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n", uid=0, gid=0),
    (ti("bin/", tarfile.DIRTYPE, mode=0o755), None),
    reg("bin/tool", b"\x7fELF" + bytes(range(256)) + b"end", mode=0o4755),
    (ti("bin/link", tarfile.LNKTYPE, linkname="bin/tool"), None),
    (ti("bin/sym", tarfile.SYMTYPE, linkname="/etc/hostname", mode=0o777), None),
    (ti("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3), None),
    (ti("run/fifo", tarfile.FIFOTYPE), None),
    reg("x/" + "long" * 40 + "/name", b"deep"),
    (ti("s/" + "t" * 120, tarfile.SYMTYPE, linkname="target/" * 20), None),
]
add("tar2ext4", "layer", b"\x00" + tar_bytes(LAYER))
add("tar2ext4", "layer-inline-onepass", b"\x0c" + tar_bytes(LAYER))
add("tar2ext4", "layer-gnu", b"\x00" + tar_bytes(LAYER, tarfile.GNU_FORMAT))
add("tar2ext4", "layer-gzip", b"\x10" + gzip.compress(tar_bytes(LAYER), mtime=0))
x = ti("etc/xattr", size=3, pax_headers={"SCHILY.xattr.user.k": "v",
                                           "SCHILY.xattr.security.capability": "\x01\x00"})
WH = [
    (ti("a/", tarfile.DIRTYPE, mode=0o755), None),
    reg("a/.wh.gone", b""),
    reg("a/.wh..wh..opq", b""),
    reg(".wh..wh.plnk", b""),
    (x, b"abc"),
    reg("a/b", b"1", uid=70000, gid=70000),
    (ti("a/b", tarfile.DIRTYPE, mode=0o700), None),
    reg("a/b/c", b"replaced dir"),
    reg("../escape", b"no"),
]
add("tar2ext4", "whiteouts-overlay", b"\x01" + tar_bytes(WH))
add("tar2ext4", "whiteouts-plain", b"\x00" + tar_bytes(WH))
add("tar2ext4", "backslash", b"\x02" + tar_bytes([reg("win\\dir\\file", b"w"),
                                                  (ti("win\\l", tarfile.SYMTYPE, linkname="..\\x"), None)]))
add("tar2ext4", "sparse-big-gzip", b"\x00" + gzip.compress(
    tar_bytes([reg("zeros", b"\0" * 70000 + b"z")]), mtime=0))
add("tar2ext4", "hostile", b"\x00" + tar_bytes([
    (ti("sym", tarfile.SYMTYPE, linkname="/etc"), None), reg("sym/passwd", b"x"),
    (ti("hl", tarfile.LNKTYPE, linkname="nonexistent"), None)]))
big = ti("huge", size=0)
add("tar2ext4", "huge-size", b"\x30" + tar_bytes([(big, b"")])[:-1024].replace(
    b"00000000000\0", b"77777777777\0", 1) + b"\0" * 1024)

# --- remotefs ------------------------------------------------------------------
OPTS = {"IncludeFiles": ["a", "b"], "ExcludePatterns": ["*.tmp"], "Compression": 0,
        "NoLchown": True, "UIDMaps": [{"ContainerID": 0, "HostID": 100000, "Size": 65536}],
        "GIDMaps": [{"ContainerID": 0, "HostID": 100000, "Size": 65536}],
        "ChownOpts": {"UID": 1, "GID": 2}, "IncludeSourceDir": True, "WhiteoutFormat": 1,
        "NoOverwriteDirNonDir": True, "RebaseNames": {"a": "b"}}


def opts(o):
    t = js(o).encode()
    return struct.pack(">Q", len(t)) + t


add("remotefs", "extract-pax", b"\x01" + opts(OPTS) + tar_bytes(LAYER + [(x, b"abc")]))
add("remotefs", "extract-null-opts", b"\x01" + opts(None) + tar_bytes(LAYER[:4]))
add("remotefs", "gnu-longnames", b"\x00" + tar_bytes(
    LAYER + [reg("big-ids", b"i", uid=0o7777777 + 5, gid=2**40)], tarfile.GNU_FORMAT))
add("remotefs", "ustar", b"\x00" + tar_bytes(LAYER[:6], tarfile.USTAR_FORMAT))
v7 = bytearray(tar_bytes([reg("old", b"v7 data")], tarfile.USTAR_FORMAT))
v7[257:265] = b"\0" * 8  # no magic: a v7 header
v7[148:156] = b"        "
v7[148:156] = (b"%06o\0 " % sum(v7[:512]))
add("remotefs", "v7", b"\x00" + bytes(v7))
add("remotefs", "opts-bad", b"\x01" + opts({"UIDMaps": "x", "Compression": 1.5}))
add("remotefs", "opts-short", b"\x01" + struct.pack(">Q", 100) + b"{}")
add("remotefs", "truncated", b"\x00" + tar_bytes(LAYER)[:700])

# --- vsock ---------------------------------------------------------------------
REGION = 0x2000
GPA0 = 0x10000
TX_DESC, TX_AVAIL, TX_USED = 0x000, 0x400, 0x500
RX_DESC, RX_AVAIL, RX_USED = 0x800, 0xC00, 0xD00
RX_BUFS = REGION  # region 1: zeros at the end of the input cost nothing
OP = {"REQUEST": 1, "RESPONSE": 2, "RST": 3, "SHUTDOWN": 4, "RW": 5, "CREDIT_UPDATE": 6,
      "CREDIT_REQUEST": 7}
F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


class Guest:
    def __init__(self, tx_log2=4, rx_log2=4, flags=0, rounds=2, line=b""):
        self.mem = bytearray(2 * REGION)
        self.hdr = bytearray(24)
        self.hdr[0], self.hdr[1], self.hdr[2], self.hdr[3] = tx_log2, rx_log2, flags, rounds - 1
        self.hdr[8:8 + len(line)] = line
        self.tx_num, self.rx_num = 1 << tx_log2, 1 << rx_log2
        self.next_data = 0x1000
        self.next_rx = RX_BUFS
        self.gap = 0 if flags & 1 else 0x1000
        self.tx_avail = self.rx_avail = 0
        self.tx_desc = self.rx_desc = 0

    def data(self, b, at=None):
        off = self.next_data if at is None else at
        self.mem[off:off + len(b)] = b
        if at is None:
            self.next_data = (off + len(b) + 15) & ~15
        return GPA0 + off

    def desc(self, base, i, addr, length, flags, nxt):
        struct.pack_into("<QIHH", self.mem, base + 16 * i, addr, length, flags, nxt)

    def publish(self, avail, num, idx, head):
        struct.pack_into("<H", self.mem, avail + 4 + 2 * (idx % num), head)
        struct.pack_into("<H", self.mem, avail + 2, idx + 1)

    def tx(self, parts):
        """parts: [(bytes or (gpa, len), flags)], chained in order."""
        head = self.tx_desc
        for k, (p, fl) in enumerate(parts):
            addr, ln = (self.data(p), len(p)) if isinstance(p, (bytes, bytearray)) else p
            last = k == len(parts) - 1
            self.desc(TX_DESC, self.tx_desc, addr, ln, fl | (0 if last else F_NEXT),
                      (self.tx_desc + 1) % self.tx_num)
            self.tx_desc = (self.tx_desc + 1) % self.tx_num
        self.publish(TX_AVAIL, self.tx_num, self.tx_avail, head)
        self.tx_avail += 1
        return head

    def rx(self, n, size=4096):
        for _ in range(n):
            addr = GPA0 + self.next_rx + self.gap
            self.next_rx += size
            self.desc(RX_DESC, self.rx_desc, addr, size, F_WRITE, 0)
            self.publish(RX_AVAIL, self.rx_num, self.rx_avail, self.rx_desc)
            self.rx_avail += 1
            self.rx_desc = (self.rx_desc + 1) % self.rx_num

    def bytes(self):
        mem = bytes(self.mem).rstrip(b"\0")
        return bytes(self.hdr) + mem


def pkt(op, sport, dport, data=b"", src=3, dst=2, type_=1, flags=0, buf_alloc=65536, fwd=0):
    return struct.pack("<QQIIIHHIII", src, dst, sport, dport, len(data), type_, OP[op], flags,
                       buf_alloc, fwd) + data


g = Guest()
g.rx(4)
g.tx([(pkt("REQUEST", 50000, 1234), 0)])
g.tx([(pkt("RW", 50000, 1234, b"hello host"), 0)])
g.tx([(pkt("CREDIT_REQUEST", 50000, 1234), 0)])
g.tx([(pkt("SHUTDOWN", 50000, 1234, flags=3), 0)])
add("vsock", "connect-listener", g.bytes())

g = Guest()
g.rx(2)
g.tx([(pkt("REQUEST", 50001, 999), 0)])
g.tx([(pkt("RW", 50002, 998, b"no connection"), 0)])
add("vsock", "connect-nobody", g.bytes())

g = Guest(flags=1)
g.rx(2, 256)
# The header split over two descriptors, the payload straddling the two
# (adjacent) regions.
p = pkt("RW", 50000, 1234, b"x" * 64)
a = g.data(p[:20])
b = g.data(p[20:], at=REGION - 30)
g.tx([(pkt("REQUEST", 50000, 1234), 0)])
g.tx([((a, 20), 0), ((b, len(p) - 20), 0)])
add("vsock", "split-header", g.bytes())

g = Guest(flags=2, line=b"CONNECT 5000\nhi")
g.rx(4)
g.tx([(pkt("RESPONSE", 5000, 1024), 0)])
g.tx([(pkt("RW", 5000, 1024, b"from guest"), 0)])
g.tx([(pkt("CREDIT_UPDATE", 5000, 1024, fwd=10), 0)])
g.tx([(pkt("RST", 5000, 1024), 0)])
add("vsock", "host-connect", g.bytes())

g = Guest(flags=2, line=b"CONNECT x\n")
g.rx(1)
add("vsock", "host-bad-line", g.bytes())

g = Guest()
g.rx(1)
# A chain that loops on itself, an indirect table, an address outside guest
# memory, a writable buffer on tx, a short packet.
g.desc(TX_DESC, 0, GPA0 + 0x1000, 44, F_NEXT, 0)
g.publish(TX_AVAIL, 16, 0, 0)
g.desc(TX_DESC, 1, GPA0 + 0x1000, 32, F_INDIRECT, 0)
g.publish(TX_AVAIL, 16, 1, 1)
g.desc(TX_DESC, 2, 0xFFFFFFFFFFFFF000, 4096, 0, 0)
g.publish(TX_AVAIL, 16, 2, 2)
g.desc(TX_DESC, 3, GPA0 + 0x1000, 44, F_WRITE, 0)
g.publish(TX_AVAIL, 16, 3, 3)
g.desc(TX_DESC, 4, GPA0 + 0x1000, 10, 0, 0)
g.publish(TX_AVAIL, 16, 4, 4)
g.desc(TX_DESC, 5, GPA0 + 0x1000, 44, F_NEXT, 77)
g.publish(TX_AVAIL, 16, 5, 5)
g.publish(TX_AVAIL, 16, 6, 200)
g.data(pkt("RW", 1, 2, b"", buf_alloc=0) + b"zz", at=0x1000)
add("vsock", "hostile-chains", g.bytes())

g = Guest()
g.tx([(pkt("REQUEST", 50000, 1234), 0)])
struct.pack_into("<H", g.mem, TX_AVAIL + 2, 5000)
add("vsock", "avail-runaway", g.bytes())

g = Guest(tx_log2=0, rx_log2=0, rounds=4, flags=4)
g.rx(1, 44)
g.tx([(pkt("REQUEST", 7, 1234, type_=2, src=9, dst=77), 0)])
add("vsock", "tiny-rings-seqpacket", g.bytes())

g = Guest()
g.rx(3, 48)
g.tx([(pkt("REQUEST", 50000, 1234, buf_alloc=8), 0)])
g.tx([(pkt("RW", 50000, 1234, b"y" * 300), 0)])
add("vsock", "small-credit", g.bytes())


# --- vhost ---------------------------------------------------------------------
# QEMU's conversation with lcow-vsockd, then the rings in guest memory.
VU = {"GET_FEATURES": 1, "SET_FEATURES": 2, "SET_OWNER": 3, "RESET_OWNER": 4,
      "SET_MEM_TABLE": 5, "SET_LOG_BASE": 6, "SET_VRING_NUM": 8, "SET_VRING_ADDR": 9,
      "SET_VRING_BASE": 10, "GET_VRING_BASE": 11, "SET_VRING_KICK": 12, "SET_VRING_CALL": 13,
      "SET_VRING_ERR": 14, "GET_PROTOCOL_FEATURES": 15, "SET_PROTOCOL_FEATURES": 16,
      "GET_QUEUE_NUM": 17, "SET_VRING_ENABLE": 18, "GET_CONFIG": 24, "SET_CONFIG": 25,
      "RESET_DEVICE": 34, "GET_MAX_MEM_SLOTS": 36}
UVA = 0x7F0000000000
VMEM = 0x10000


def vu(req, payload=b"", flags=1):
    return struct.pack("<III", VU[req], flags, len(payload)) + payload


def u64(v):
    return struct.pack("<Q", v)


def state(i, n):
    return struct.pack("<II", i, n)


def region_table(regions):
    return struct.pack("<II", len(regions), 0) + b"".join(
        struct.pack("<QQQQ", *r) for r in regions)


def vring_addr(i, desc, used, avail, flags=0):
    return struct.pack("<IIQQQQ", i, flags, desc, used, avail, 0)


def vhost_seed(msgs, mem=b""):
    blob = b"".join(msgs)
    return struct.pack("<H", len(blob)) + blob + mem


def bring_up(num=16, regions=None, features=(1 << 32) | (1 << 30)):
    # The vsock target's guest memory: 16 KiB at GPA 0x10000.
    regions = regions or [(GPA0, 2 * REGION, UVA, 0)]
    m = [vu("GET_FEATURES"), vu("GET_PROTOCOL_FEATURES"),
         vu("SET_PROTOCOL_FEATURES", u64((1 << 3) | (1 << 9))),
         vu("SET_FEATURES", u64(features)), vu("SET_OWNER"),
         vu("GET_QUEUE_NUM"), vu("GET_MAX_MEM_SLOTS"),
         vu("SET_MEM_TABLE", region_table(regions), flags=1 | 8)]
    # rx (0) and tx (1) at the vsock target's offsets, 16 entries each.
    layout = {0: (RX_DESC, RX_AVAIL, RX_USED), 1: (TX_DESC, TX_AVAIL, TX_USED)}
    for q, (d, a, u) in layout.items():
        m += [vu("SET_VRING_NUM", state(q, num)), vu("SET_VRING_BASE", state(q, 0)),
              vu("SET_VRING_ADDR", vring_addr(q, UVA + d, UVA + u, UVA + a)),
              vu("SET_VRING_CALL", u64(q)), vu("SET_VRING_KICK", u64(q)),
              vu("SET_VRING_ENABLE", state(q, 1))]
    return m


def guest_mem(g):
    return bytes(g.mem).rstrip(b"\0")


g = Guest(flags=1)
g.rx(2, 256)
g.tx([(pkt("REQUEST", 50000, 1234), 0)])
g.tx([(pkt("RW", 50000, 1234, b"to nobody"), 0)])
add("vhost", "bring-up-and-request", vhost_seed(bring_up(), guest_mem(g)))
add("vhost", "config-and-reset", vhost_seed(bring_up()[:8] + [
    vu("GET_CONFIG", struct.pack("<III", 0, 8, 0) + b"\0" * 8),
    vu("GET_CONFIG", struct.pack("<III", 4, 300, 0) + b"\0" * 8),
    vu("SET_CONFIG", struct.pack("<III", 0, 8, 0) + u64(3)),
    vu("GET_VRING_BASE", state(1, 0)), vu("RESET_DEVICE"), vu("RESET_OWNER"),
    vu("SET_LOG_BASE", u64(0)), vu("GET_FEATURES", flags=1 | 8)]))
add("vhost", "bad-tables", vhost_seed([
    vu("SET_MEM_TABLE", region_table([(0, VMEM, UVA, 0)] * 9)),
    vu("SET_MEM_TABLE", region_table([(0, VMEM, UVA, VMEM)])),
    vu("SET_MEM_TABLE", region_table([(0, VMEM, UVA, 0), (0x8000, VMEM, UVA + VMEM, 0)])),
    vu("SET_MEM_TABLE", region_table([(0, 0x8000, UVA, 0), (0x8000, 0x8000, UVA + 0x8000, 0x8000)])),
    vu("SET_MEM_TABLE", struct.pack("<II", 0, 0)),
    vu("SET_VRING_NUM", state(7, 16)), vu("SET_VRING_NUM", state(0, 3)),
    vu("SET_VRING_ADDR", vring_addr(0, 1, 2, 3)),
    vu("SET_VRING_ADDR", vring_addr(1, UVA, UVA, UVA, flags=1)),
    vu("SET_VRING_KICK", u64(0x100 | 1)), vu("SET_VRING_ERR", u64(0)),
    vu("SET_FEATURES", u64(1 << 63)), vu("SET_VRING_NUM", b"\1")]))
add("vhost", "remap-under-rings", vhost_seed(bring_up() + [
    vu("SET_MEM_TABLE", region_table([(0, 0x8000, UVA, 0x8000)]))], guest_mem(g)))
add("vhost", "truncated", vhost_seed(bring_up()[:3] + [struct.pack("<III", 5, 1, 4000) + b"\1"]))


# --- write -----------------------------------------------------------------------
def main():
    check = "--check" in sys.argv[1:]
    bad = 0
    for target, files in sorted(seeds.items()):
        d = os.path.join(ROOT, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for name, data in sorted(files.items()):
            path = os.path.join(d, name)
            if check:
                try:
                    with open(path, "rb") as f:
                        same = f.read() == data
                except FileNotFoundError:
                    same = False
                if not same:
                    print(f"gen-corpus: {path} is missing or stale", file=sys.stderr)
                    bad = 1
                continue
            with open(path, "wb") as f:
                f.write(data)
        if not check:
            print(f"gen-corpus: {target}: {len(files)} seeds, "
                  f"{sum(map(len, files.values()))} bytes")
    sys.exit(bad)


main()

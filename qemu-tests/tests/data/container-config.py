#!/usr/bin/env python3
"""Print a ContainerConfig document (what hcsshim puts in Create's
ContainerConfig) with a Docker-like OCI spec, for the container tests.

usage: container-config.py ID [--memory BYTES] [--pids N] [--seccomp FILE]
       [--cap-add CAP]... [--user UID:GID] [--gids G,G] [--readonly]
       [--no-pidns] [--no-devices] [--arg A]...
"""
import argparse
import json

DOCKER_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
               "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
               "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("id")
    ap.add_argument("--memory", type=int)
    ap.add_argument("--pids", type=int)
    ap.add_argument("--seccomp")
    ap.add_argument("--cap-add", action="append", default=[])
    ap.add_argument("--user", default="0:0")
    ap.add_argument("--gids", default="")
    ap.add_argument("--readonly", action="store_true")
    ap.add_argument("--no-pidns", action="store_true")
    ap.add_argument("--no-devices", action="store_true")
    ap.add_argument("--arg", action="append", default=[])
    a = ap.parse_args()

    caps = DOCKER_CAPS + a.cap_add
    uid, gid = (int(x) for x in a.user.split(":"))
    user = {"uid": uid, "gid": gid}
    if a.gids:
        user["additionalGids"] = [int(g) for g in a.gids.split(",")]
    bundle = "/run/gcs/c/" + a.id
    resources = {"cpu": {"shares": 512}}
    if a.memory:
        resources["memory"] = {"limit": a.memory, "swap": a.memory}
    if a.pids:
        resources["pids"] = {"limit": a.pids}
    ns = ["ipc", "uts", "mount", "network", "cgroup"] + ([] if a.no_pidns else ["pid"])
    # Docker's default device rules: deny, then mknod of anything and the
    # usual character devices.
    devices = [{"allow": False, "access": "rwm"},
               {"allow": True, "type": "c", "access": "m"},
               {"allow": True, "type": "b", "access": "m"}]
    for major, minor in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2),
                         (136, None), (10, 200)):
        d = {"allow": True, "type": "c", "major": major, "access": "rwm"}
        if minor is not None:
            d["minor"] = minor
        devices.append(d)
    if not a.no_devices:
        resources["devices"] = devices
    linux = {
        "namespaces": [{"type": t} for t in ns],
        "resources": resources,
        "maskedPaths": ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
                        "/proc/latency_stats", "/proc/timer_list", "/proc/sched_debug",
                        "/proc/scsi", "/sys/firmware"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                          "/proc/sysrq-trigger"],
    }
    if a.seccomp:
        with open(a.seccomp) as f:
            linux["seccomp"] = json.load(f)
    spec = {
        "ociVersion": "1.1.0",
        "process": {
            "terminal": False, "user": user, "args": a.arg or ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "HOSTNAME=" + a.id],
            "cwd": "/",
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024}],
            "noNewPrivileges": bool(a.seccomp),
        },
        "root": {"path": bundle + "/rootfs", "readonly": a.readonly},
        "hostname": a.id,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                         "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["ro", "nosuid", "noexec", "nodev"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "mode=1777"]},
        ],
        "linux": linux,
    }
    print(json.dumps({"SchemaVersion": {"Major": 2, "Minor": 1}, "OciBundlePath": bundle,
                      "OciSpecification": spec, "ScratchDirPath": bundle + "/scratch"}))


main()

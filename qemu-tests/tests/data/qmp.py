#!/usr/bin/env python3
"""qmp.py SOCKET JSON...: send QEMU's monitor each JSON command in turn (after
qmp_capabilities) over its unix socket; each must succeed.  Prints nothing;
a command QEMU refuses ends it with exit 1 and "qmp: <command>: <reason>".
Events that arrive in between are skipped."""
import json
import socket
import sys


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: qmp.py SOCKET JSON...")
    try:
        cmds = [json.loads(a) for a in sys.argv[2:]]
    except ValueError as e:
        sys.exit("qmp: bad JSON command: %s" % e)
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(120)
    try:
        s.connect(sys.argv[1])
    except OSError as e:
        sys.exit("qmp: %s: %s" % (sys.argv[1], e))
    f = s.makefile("rw")
    json.loads(f.readline())  # the greeting
    for c in [{"execute": "qmp_capabilities"}] + cmds:
        f.write(json.dumps(c) + "\n")
        f.flush()
        while True:
            line = f.readline()
            if not line:
                sys.exit("qmp: %s: the monitor closed the connection" % c.get("execute"))
            m = json.loads(line)
            if "return" in m:
                break
            if "error" in m:
                sys.exit("qmp: %s: %s" % (c.get("execute"), m["error"].get("desc")))


if __name__ == "__main__":
    main()

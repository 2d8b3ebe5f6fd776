#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Round-trip latency of bridge requests, for bridge-bench.sh.

Sends COUNT requests of each TYPE, one at a time, over ONE connection to
`lcowctl serve`'s control socket ({"op":"request",...} lines, README of
qemu-tests/host-client) and times each from the write of the request line to
the read of its answer line: host client -> serve -> lcow-vsockd -> the
agent -> back.  WARMUP requests of each type go first, untimed.  Checks every
answer (DumpStacks: Result 0 and GuestStacks; an unknown type: Result
0x80004001) and exits 1 if one is wrong.  Prints one JSON object:
  {"<name>": {"type": "0x...", "count": n, "us": [sorted samples]}, ...}
"""
import argparse
import json
import socket
import sys
import time
import uuid

UVM = "00000000-0000-0000-0000-000000000000"
E_NOTIMPL = -2147467263  # 0x80004001 as the int32 the wire carries

KINDS = {
    "DumpStacks": (0x10100C01, lambda r: r.get("Result") == 0 and "GuestStacks" in r),
    "UnknownType": (0x10100F01, lambda r: r.get("Result") == E_NOTIMPL),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--control", required=True)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(args.timeout)
    s.connect(args.control)
    rf = s.makefile("rb")

    def one(type_id):
        # serve sends the body as given: the client fills the ids.
        body = {"ContainerId": UVM, "ActivityId": str(uuid.uuid4())}
        line = json.dumps({"op": "request", "type": type_id, "body": body}).encode() + b"\n"
        t0 = time.perf_counter_ns()
        s.sendall(line)
        answer = rf.readline()
        t1 = time.perf_counter_ns()
        if not answer:
            raise EOFError("serve closed the control connection")
        return (t1 - t0) / 1000.0, json.loads(answer)

    out = {}
    for name, (type_id, good) in KINDS.items():
        samples = []
        for i in range(args.warmup + args.count):
            us, reply = one(type_id)
            if not reply.get("ok") or not good(reply.get("response", {})):
                print("ctl-latency: %s #%d: unexpected answer %s" % (name, i, json.dumps(reply)[:300]),
                      file=sys.stderr)
                return 1
            if i >= args.warmup:
                samples.append(us)
        out[name] = {"type": "0x%08x" % type_id, "count": len(samples), "us": sorted(samples)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

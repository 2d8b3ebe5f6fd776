#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Host side of vsock-bench.sh: unix-socket peers for the guest's bench-probe.

The vsock backend (lcow-vsockd, hybrid convention) turns a guest dial of host
port P into a connect() on BASE_<P>.  This listens on:
  BASE_<g2h>   receives one transfer per connection and answers it
  BASE_<h2g>   sends the payload (BYTES of os.urandom) per connection
  BASE_<ping>  echoes whatever arrives
The transfer framing and its helpers are vsock-probe's, imported from
qemu-tests/vsock-backend/tests/vsock-host.py.  One JSON object per finished
transfer is appended to --results; "bench-host: ready" on stdout once every
listener exists.  Runs until SIGTERM/SIGINT.
"""
import argparse
import importlib.util
import json
import os
import signal
import sys
import threading
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
VSOCK_HOST = os.path.join(HERE, "..", "vsock-backend", "tests", "vsock-host.py")


def load_vsock_host():
    spec = importlib.util.spec_from_file_location("vsock_host", VSOCK_HOST)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--bytes", type=int, required=True, help="host->guest payload size")
    ap.add_argument("--g2h", type=int, required=True)
    ap.add_argument("--h2g", type=int, required=True)
    ap.add_argument("--ping", type=int, required=True)
    ap.add_argument("--results", required=True)
    args = ap.parse_args()
    vh = load_vsock_host()

    payload = os.urandom(args.bytes)
    payload_crc = zlib.crc32(payload)
    lock = threading.Lock()

    def record(obj):
        with lock, open(args.results, "a") as f:
            f.write(json.dumps(obj) + "\n")

    def on_g2h(conn):
        try:
            n, ok, secs = vh.receive_data(vh.Stream(conn))
            record({"op": "g2h", "bytes": n, "ok": ok, "host_s": secs})
        except Exception as e:  # noqa: BLE001 - every failure is a result
            record({"op": "g2h", "ok": False, "error": repr(e)})
        conn.close()

    def on_h2g(conn):
        try:
            ok, answer, secs = vh.send_data(vh.Stream(conn), payload, payload_crc)
            record({"op": "h2g", "bytes": len(payload), "ok": ok, "answer": answer,
                    "crc": "%08x" % payload_crc, "host_s": secs})
        except Exception as e:  # noqa: BLE001
            record({"op": "h2g", "ok": False, "error": repr(e)})
        conn.close()

    def on_ping(conn):
        n = 0
        try:
            while True:
                data = conn.recv(4096)
                if not data:
                    break
                conn.sendall(data)
                n += len(data)
            record({"op": "ping", "bytes": n, "ok": True})
        except Exception as e:  # noqa: BLE001
            record({"op": "ping", "ok": False, "error": repr(e)})
        conn.close()

    servers = [
        vh.serve("%s_%d" % (args.base, args.g2h), on_g2h),
        vh.serve("%s_%d" % (args.base, args.h2g), on_h2g),
        vh.serve("%s_%d" % (args.base, args.ping), on_ping),
    ]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("bench-host: ready", flush=True)
    while not stop.wait(3600):
        pass
    for s in servers:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Host side of vm-smoke.sh: unix-socket peers for the guest's vsock-probe.

Listens (hybrid convention) on BASE_<port> for the guest-dialled tests, and
when the guest reports on the control port, runs the host-initiated tests
through BASE ("CONNECT <port>\\n").  Writes TAP lines without numbers to
--out (vm-smoke.sh numbers them); prints "vsock-host: ready" on stdout once
every listener exists.

Transfers: "DATA <n>\\n" <n bytes> "END <crc32 hex>\\n", answered with
"OK <n> <crc32>\\n" (or "BAD ...").
"""
import argparse
import os
import socket
import sys
import threading
import time
import zlib

PORT_G2H = 6000     # guest sends BYTES
PORT_H2G = 6001     # guest receives BYTES
PORT_MULTI = 6002   # guest sends from many streams at once
PORT_SLOW_HOST = 6003  # guest sends, the host reads slowly
PORT_SLOW_GUEST = 6004  # host sends, the guest reads slowly
SLOW_BYTES = 2 * 1000 * 1000
PORT_CONTROL = 6100
GUEST_SERVE = 5000  # vsock-probe serve
GUEST_CLOSED = 5999  # nobody listens there in the guest

lock = threading.Lock()
results = {}        # name -> list of (ok, detail, mbps)


def record(name, ok, detail="", mbps=None):
    with lock:
        results.setdefault(name, []).append((ok, detail, mbps))


class Stream:
    """Buffered line/byte reader over a blocking socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def readline(self, limit=128):
        while b"\n" not in self.buf:
            if len(self.buf) > limit:
                raise ValueError("line too long")
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("EOF before a line (got %r)" % self.buf[:40])
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("ascii", "replace")

    def read_counted(self, n, delay=0.0):
        """Read n bytes, return their crc32; sleep delay s after each read."""
        crc = zlib.crc32(self.buf[:n])
        got = min(n, len(self.buf))
        self.buf = self.buf[got:]
        while got < n:
            chunk = self.sock.recv(min(16384 if delay else 1 << 18, n - got))
            if not chunk:
                raise EOFError("EOF after %d of %d bytes" % (got, n))
            if delay:
                time.sleep(delay)
            crc = zlib.crc32(chunk, crc)
            got += len(chunk)
        return crc


def receive_data(st, delay=0.0):
    """Receive one DATA transfer and answer it; returns (n, ok, seconds)."""
    hdr = st.readline()
    if not hdr.startswith("DATA "):
        raise ValueError("bad header %r" % hdr)
    n = int(hdr[5:])
    t0 = time.monotonic()
    crc = st.read_counted(n, delay)
    trailer = st.readline()
    secs = time.monotonic() - t0
    want = int(trailer.split()[1], 16)
    ok = trailer.startswith("END ") and want == crc
    answer = "OK %d %08x\n" % (n, crc) if ok else "BAD %d %08x %08x\n" % (n, crc, want)
    st.sock.sendall(answer.encode())
    return n, ok, secs


def send_data(st, payload, crc):
    """Send one DATA transfer, wait for the answer; returns (ok, answer, seconds)."""
    t0 = time.monotonic()
    st.sock.sendall(b"DATA %d\n" % len(payload))
    st.sock.sendall(payload)
    st.sock.sendall(b"END %08x\n" % crc)
    answer = st.readline()
    secs = time.monotonic() - t0
    return answer == "OK %d %08x" % (len(payload), crc), answer, secs


def mbps(n, secs):
    return n / secs / 1e6 if secs > 0 else 0.0


def serve(path, handler):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(512)

    def loop():
        while True:
            conn, _ = srv.accept()
            conn.settimeout(600)
            threading.Thread(target=handler, args=(conn,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return srv


def host_connect(base, port, timeout=600):
    """CONNECT through the backend; returns (Stream, local_port) or raises."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(base)
    s.sendall(b"CONNECT %d\n" % port)
    st = Stream(s)
    line = st.readline()
    if not line.startswith("OK "):
        raise ValueError("CONNECT answered %r" % line)
    return st, int(line[3:])


def expect_closed(base, line):
    """True if the backend closes the connection without an OK."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(base)
    s.sendall(line)
    try:
        data = s.recv(64)
    except ConnectionResetError:
        data = b""
    s.close()
    return data == b""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--bytes", type=int, default=10 * 1000 * 1000)
    ap.add_argument("--conns", type=int, default=256)
    ap.add_argument("--multi-bytes", type=int, default=65536)
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args()
    base = args.base
    payload = os.urandom(args.bytes)
    payload_crc = zlib.crc32(payload)
    control_done = threading.Event()
    guest_report = {}

    def on_g2h(conn):
        try:
            n, ok, secs = receive_data(Stream(conn))
            record("g2h", ok and n == args.bytes, "%d bytes" % n, mbps(n, secs))
        except Exception as e:  # noqa: BLE001 - every failure is a test result
            record("g2h", False, repr(e))
        conn.close()

    def on_h2g(conn):
        try:
            ok, answer, secs = send_data(Stream(conn), payload, payload_crc)
            record("h2g", ok, answer, mbps(len(payload), secs))
        except Exception as e:  # noqa: BLE001
            record("h2g", False, repr(e))
        conn.close()

    def on_multi(conn):
        try:
            n, ok, _ = receive_data(Stream(conn))
            record("multi", ok, "%d bytes" % n)
        except Exception as e:  # noqa: BLE001
            record("multi", False, repr(e))
        conn.close()

    def on_slow_host(conn):
        try:
            n, ok, secs = receive_data(Stream(conn), delay=0.005)
            record("slow_host", ok and n == SLOW_BYTES, "%d bytes" % n, mbps(n, secs))
        except Exception as e:  # noqa: BLE001
            record("slow_host", False, repr(e))
        conn.close()

    slow_payload = os.urandom(SLOW_BYTES)

    def on_slow_guest(conn):
        try:
            ok, answer, secs = send_data(Stream(conn), slow_payload, zlib.crc32(slow_payload))
            record("slow_guest", ok, answer, mbps(len(slow_payload), secs))
        except Exception as e:  # noqa: BLE001
            record("slow_guest", False, repr(e))
        conn.close()

    def host_initiated():
        # host -> guest through CONNECT
        try:
            st, local = host_connect(base, GUEST_SERVE)
            ok, answer, secs = send_data(st, payload, payload_crc)
            record("connect_h2g", ok, "local port %d: %s" % (local, answer),
                   mbps(len(payload), secs))
            st.sock.close()
        except Exception as e:  # noqa: BLE001
            record("connect_h2g", False, repr(e))
        # guest -> host through CONNECT
        try:
            st, local = host_connect(base, GUEST_SERVE)
            st.sock.sendall(b"GET %d\n" % args.bytes)
            n, ok, secs = receive_data(st)
            record("connect_g2h", ok and n == args.bytes, "%d bytes" % n, mbps(n, secs))
            st.sock.close()
        except Exception as e:  # noqa: BLE001
            record("connect_g2h", False, repr(e))
        # many at once: all connected before any data moves
        barrier = threading.Barrier(args.conns, timeout=600)

        def one(i):
            try:
                st, _ = host_connect(base, GUEST_SERVE)
                barrier.wait()
                data = os.urandom(args.multi_bytes + i)
                ok, answer, _ = send_data(st, data, zlib.crc32(data))
                record("connect_multi", ok, answer)
                st.sock.close()
            except Exception as e:  # noqa: BLE001
                record("connect_multi", False, repr(e))
                barrier.abort()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(args.conns)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        record("connect_closed_port", expect_closed(base, b"CONNECT %d\n" % GUEST_CLOSED))
        record("connect_malformed", expect_closed(base, b"CONNECT 12x\n"))

    def on_control(conn):
        st = Stream(conn)
        try:
            line = st.readline()
            for kv in line.split()[1:]:
                k, _, v = kv.partition("=")
                guest_report[k] = v
            host_initiated()
            failed = [k for k, v in results.items() if not all(r[0] for r in v)]
            conn.sendall(("DONE %s %s\n" % ("ok" if not failed else "fail",
                                            " ".join(failed))).encode())
        except Exception as e:  # noqa: BLE001
            record("control", False, repr(e))
        conn.close()
        control_done.set()

    servers = [
        serve("%s_%d" % (base, PORT_G2H), on_g2h),
        serve("%s_%d" % (base, PORT_H2G), on_h2g),
        serve("%s_%d" % (base, PORT_MULTI), on_multi),
        serve("%s_%d" % (base, PORT_SLOW_HOST), on_slow_host),
        serve("%s_%d" % (base, PORT_SLOW_GUEST), on_slow_guest),
        serve("%s_%d" % (base, PORT_CONTROL), on_control),
    ]
    print("vsock-host: ready", flush=True)
    finished = control_done.wait(args.timeout)

    def line(ok, desc):
        return "%s - %s" % ("ok" if ok else "not ok", desc)

    def one_result(name, desc, count=1):
        rs = results.get(name, [])
        ok = len(rs) == count and all(r[0] for r in rs)
        speed = [r[2] for r in rs if r[2] is not None]
        extra = " (%.2f MB/s)" % speed[0] if speed and count == 1 else ""
        out = [line(ok, desc + extra)]
        if not ok:
            bad = [r[1] for r in rs if not r[0]][:3]
            out.append("# %d of %d results, failures: %s" % (len(rs), count, bad))
        return out

    tap = []
    mb = args.bytes / 1e6
    tap += one_result("g2h", "guest->host %.0f MB, guest dials port %d" % (mb, PORT_G2H))
    tap += one_result("h2g", "host->guest %.0f MB, guest dials port %d" % (mb, PORT_H2G))
    tap += one_result("multi", "guest->host %d concurrent streams" % args.conns, args.conns)
    tap += one_result("slow_host", "guest->host 2 MB to a slow host reader")
    tap += one_result("slow_guest", "host->guest 2 MB to a slow guest reader")
    tap.append(line(guest_report.get("refused") == "0",
                    "guest dialling a port nobody serves is reset"))
    tap += one_result("connect_h2g", "host->guest %.0f MB via CONNECT" % mb)
    tap += one_result("connect_g2h", "guest->host %.0f MB via CONNECT" % mb)
    tap += one_result("connect_multi", "host->guest %d concurrent CONNECT streams" % args.conns,
                      args.conns)
    tap += one_result("connect_closed_port", "CONNECT to a guest port nobody serves is closed")
    tap += one_result("connect_malformed", "malformed CONNECT line is closed")
    tap.append(line(all(guest_report.get(k) == "0"
                        for k in ("send", "recv", "multi", "slowhost", "slowguest")),
                    "guest's own checks %s" % (guest_report or "(no report)")))
    if not finished:
        tap.append("# timed out after %d s waiting for the guest" % args.timeout)
    with open(args.out, "w") as f:
        f.write("\n".join(tap) + "\n")
    for s in servers:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

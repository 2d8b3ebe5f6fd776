#!/usr/bin/env python3
"""Host end of a one-shot VM job's stdio (used by scripts/lcow-oneshot).

The guest runs the job under /bin/vsockexec with stdin, stdout and stderr on
three vsock ports, and reports the job's exit status on a fourth, the control
port.  The vsock backend (lcow-vsockd) turns a guest connection to port P into
a connect() on the unix socket BASE_P, so this listens on BASE_IN, BASE_OUT,
BASE_ERR and BASE_CTL before the VM starts and then:

  - copies its own stdin to the stdin connection, then half-closes it (EOF
    for the job); a job that never reads it is fine,
  - copies the stdout and stderr connections to its own stdout and stderr
    until each ends,
  - reads "status N" from the control connection and, only once stdout and
    stderr have ended, writes N to --status-file and closes the control
    connection.  The guest waits for that close before it powers off: no
    byte of output is lost to the power-off.

Exit status: 0 when the guest reported a status, 1 otherwise (--timeout),
2 usage.  Output the caller no longer reads (EPIPE) is drained and dropped.
"""
import argparse
import os
import socket
import sys
import threading

CHUNK = 1 << 16


def listen(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(1)
    return s


def accept_one(lsock):
    conn, _ = lsock.accept()
    lsock.close()
    return conn


def feed_stdin(lsock, src_fd):
    conn = accept_one(lsock)
    try:
        while True:
            data = os.read(src_fd, CHUNK)
            if not data:
                break
            conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        # The job exited without reading all of it (or at all).
        pass
    # Keep the connection until the job closes its end.
    try:
        while conn.recv(CHUNK):
            pass
    except OSError:
        pass
    conn.close()


def drain(lsock, dst_fd, done):
    conn = accept_one(lsock)
    writable = True
    try:
        while True:
            data = conn.recv(CHUNK)
            if not data:
                break
            while writable and data:
                try:
                    n = os.write(dst_fd, data)
                    data = data[n:]
                except BrokenPipeError:
                    writable = False
    except OSError:
        pass
    finally:
        conn.close()
        done.set()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--base", required=True, help="the backend's unix socket path (BASE)")
    ap.add_argument("--ports", required=True,
                    help="IN,OUT,ERR,CTL vsock ports, e.g. 50,51,52,53")
    ap.add_argument("--status-file", required=True)
    ap.add_argument("--ready-file", help="created once every socket listens")
    ap.add_argument("--timeout", type=float, default=None,
                    help="give up after SEC seconds without a status")
    a = ap.parse_args()
    try:
        p_in, p_out, p_err, p_ctl = (int(x) for x in a.ports.split(","))
    except ValueError:
        ap.error("--ports takes four numbers: IN,OUT,ERR,CTL")

    socks = {p: listen("%s_%d" % (a.base, p)) for p in (p_in, p_out, p_err, p_ctl)}
    if a.ready_file:
        with open(a.ready_file, "w"):
            pass
    out_done, err_done = threading.Event(), threading.Event()
    for target, args in ((feed_stdin, (socks[p_in], 0)),
                         (drain, (socks[p_out], 1, out_done)),
                         (drain, (socks[p_err], 2, err_done))):
        threading.Thread(target=target, args=args, daemon=True).start()

    result = {}

    def control():
        conn = accept_one(socks[p_ctl])
        line = b""
        try:
            while not line.endswith(b"\n"):
                data = conn.recv(64)
                if not data:
                    break
                line += data
            out_done.wait()
            err_done.wait()
            words = line.split()
            if len(words) == 2 and words[0] == b"status" and words[1].isdigit():
                result["status"] = int(words[1])
        finally:
            conn.close()

    t = threading.Thread(target=control, daemon=True)
    t.start()
    t.join(a.timeout)
    if "status" not in result:
        return 1
    with open(a.status_file + ".tmp", "w") as f:
        f.write("%d\n" % result["status"])
    os.rename(a.status_file + ".tmp", a.status_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())

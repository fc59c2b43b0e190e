#!/usr/bin/env python3
"""Helpers of scripts/bench-serve (standard library only; loopback only).

  gen-records DIR N TEMPLATE    write N cached .info objects into the data
                                directory DIR, directly on disk, in the file
                                store's format (a record per object naming its
                                blob), the record fields copied from TEMPLATE
                                (a record gomirror wrote); prints one key
  idle-conns PORT PATH N PID..  open N keep-alive connections to 127.0.0.1:PORT,
                                one GET PATH on each, hold them all, and print
                                the RSS of the PIDs (summed) before and while
                                held, as JSON
  startup BIN DATA PORT KEY     start `BIN serve` on DATA and print, as JSON, the
                                time to its "listening" line and to a first 200
                                for KEY (medians of 5 starts), and to the end of
                                its background object count (with the peak RSS
                                then)
"""

import hashlib
import http.client
import json
import os
import resource
import socket
import subprocess
import sys
import time

VERSIONS = 100  # per module


def gen_records(data, n, template):
    tpl = json.load(open(template))
    objects = os.path.join(data, "objects")
    for d in ("objects", "quarantine", "tmp"):
        os.makedirs(os.path.join(data, d), exist_ok=True)
    first = None
    made = 0
    module = 0
    while made < n:
        mod = f"bench.example/m{module:06d}"
        vdir = os.path.join(objects, mod, "@v")
        os.makedirs(vdir, exist_ok=True)
        dfd = os.open(vdir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            for j in range(min(VERSIONS, n - made)):
                version = f"v1.0.{j}"
                body = json.dumps(
                    {"Version": version, "Time": "2024-01-02T03:04:05Z"},
                    separators=(",", ":"),
                ).encode()
                key = f"{mod}/@v/{version}.info"
                blob = f"{version}.info.{os.urandom(8).hex()}.gblob"
                rec = {
                    "size": len(body),
                    "sha256": hashlib.sha256(body).hexdigest(),
                    "origin": tpl["origin"],
                    "admitted_at": tpl["admitted_at"],
                    "key": key,
                    "blob": blob,
                }
                for name, data_ in (
                    (blob, body),
                    (f"{version}.info.gmeta", json.dumps(rec, indent=2).encode()),
                ):
                    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600, dir_fd=dfd)
                    os.write(fd, data_)
                    os.close(fd)
                first = first or key
                made += 1
        finally:
            os.close(dfd)
        module += 1
    # A key in the middle: not the first directory a scan would meet.
    mid = n // 2
    print(f"bench.example/m{mid // VERSIONS:06d}/@v/v1.0.{mid % VERSIONS}.info" if n > 1 else first)


def rss_kib(pids, field="VmRSS"):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
    return total


def fds(pids):
    return sum(len(os.listdir(f"/proc/{p}/fd")) for p in pids)


def get(sock, path):
    """One keep-alive GET on a connected socket; the status."""
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response headers")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for h in lines[1:]:
        k, _, v = h.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the body")
        rest += chunk
    return int(lines[0].split()[1])


def idle_conns(port, path, n, pids):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, n + 1024) if hard != resource.RLIM_INFINITY else n + 1024
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    deadline = time.monotonic() + 60
    warm = socket.create_connection(("127.0.0.1", port))
    get(warm, path)
    warm.close()
    time.sleep(0.5)
    before, fds_before = rss_kib(pids), fds(pids)
    socks = []
    t0 = time.monotonic()
    try:
        for _ in range(n):
            if time.monotonic() > deadline:
                raise TimeoutError("opening the connections took over 60 s")
            s = socket.create_connection(("127.0.0.1", port))
            status = get(s, path)
            if status != 200:
                raise RuntimeError(f"status {status}")
            socks.append(s)
        opened = time.monotonic() - t0
        time.sleep(1.0)
        held, fds_held = rss_kib(pids), fds(pids)
        # Still open? A closed connection reads EOF at once.
        alive = 0
        for s in socks:
            s.setblocking(False)
            try:
                alive += s.recv(1) != b""
            except BlockingIOError:
                alive += 1
    finally:
        for s in socks:
            s.close()
    print(json.dumps({
        "connections": n, "alive": alive, "open_seconds": round(opened, 2),
        "rss_before_kib": before, "rss_held_kib": held,
        "fds_before": fds_before, "fds_held": fds_held,
    }))


def startup_once(binary, data, port, key, count):
    """One start: seconds to the listening line and to a first 200 for KEY;
    with `count`, also to the end of the background object count."""
    env = dict(os.environ, GOMIRROR_ADMIN_TOKEN="bench-admin-token-0123", GOMIRROR_SCRUB_RATE="0")
    t0 = time.monotonic()
    p = subprocess.Popen(
        [binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", data,
         "--goproxy", "off", "--gosumdb", "off"],
        stdout=subprocess.PIPE, stderr=open(os.path.join(data, "..", f"startup-{port}.log"), "w"),
        env=env,
    )
    out = {}
    try:
        line = p.stdout.readline().decode()
        if "listening" not in line:
            raise RuntimeError(f"no listening line: {line!r}")
        out["listening_s"] = time.monotonic() - t0
        deadline = t0 + 120
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                c.request("GET", "/" + key)
                r = c.getresponse()
                body = r.read()
                c.close()
                if r.status == 200 and b'"Version"' in body:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("no successful request in 120 s")
            time.sleep(0.001)
        out["first_request_s"] = time.monotonic() - t0
        out["hit"] = r.getheader("x-gomirror-cache")
        if not count:
            return out
        deadline = t0 + 900
        while True:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/-/stats", headers={"Authorization": "Bearer bench-admin-token-0123"})
            r = c.getresponse()
            stats = json.loads(r.read() or b"{}")
            c.close()
            if stats.get("objects") is not None:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("the object count did not finish in 900 s")
            time.sleep(0.05)
        out["counted_s"] = time.monotonic() - t0
        out["objects"] = stats["objects"]
        out["vmhwm_kib"] = rss_kib([p.pid], "VmHWM")
        out["rss_kib"] = rss_kib([p.pid])
        return out
    finally:
        p.terminate()
        p.wait(timeout=60)


def startup(binary, data, port, key, repeats=5):
    """The median of `repeats` starts (listening, first request), then one
    start that waits for the background object count."""
    runs = [startup_once(binary, data, port, key, False) for _ in range(repeats)]
    out = startup_once(binary, data, port, key, True)
    for k in ("listening_s", "first_request_s"):
        out[k] = sorted(r[k] for r in runs)[len(runs) // 2]
        out[k + "_all"] = [round(r[k], 4) for r in runs]
    print(json.dumps(out))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "gen-records":
        gen_records(args[0], int(args[1]), args[2])
    elif cmd == "idle-conns":
        idle_conns(int(args[0]), args[1], int(args[2]), [int(a) for a in args[3:]])
    elif cmd == "startup":
        startup(args[0], args[1], int(args[2]), args[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()

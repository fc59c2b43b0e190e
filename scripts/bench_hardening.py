#!/usr/bin/env python3
"""The hardening figures of issue 12, measured against a real gomirror on
loopback (run by scripts/bench-hardening, which builds the binary and
provides the `h2` package):

  1. fds and RSS of the server while 2,000 clients trickle request headers
     (and after the header-read timeout);
  2. fds and RSS with 10 HTTP/2 connections x 200 stalled streams for a
     cached 50 MiB zip (the clients announce a zero flow-control window);
  3. /healthz latency while 16 clients fetch a 1,000,000-version list;
  4. the most upstream connections open at once for 500 distinct cold
     paths requested at once;
  5. time to exit after SIGTERM with stuck clients (a stalled download, a
     half-sent request, idle keep-alive and HTTP/2 connections).

Usage: bench_hardening.py GOMIRROR_BINARY
"""

import asyncio
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

BIN = os.path.abspath(sys.argv[1])
W = tempfile.mkdtemp(prefix="gm-hardening-")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def mk_module(root, path, version, mib):
    tree = os.path.join(W, "tree-" + path.replace("/", "_"))
    up = os.path.join(root, path, "@v")
    os.makedirs(tree, exist_ok=True)
    os.makedirs(up, exist_ok=True)
    with open(os.path.join(tree, "go.mod"), "w") as f:
        f.write(f"module {path}\n\ngo 1.21\n")
    with open(os.path.join(tree, "blob.bin"), "wb") as f:
        f.write(os.urandom(mib << 20))
    subprocess.run([BIN, "mod", "zip", tree, f"{path}@{version}", "-o",
                    os.path.join(up, f"{version}.zip")], check=True,
                   stdout=subprocess.DEVNULL)
    shutil.copy(os.path.join(tree, "go.mod"), os.path.join(up, f"{version}.mod"))
    with open(os.path.join(up, f"{version}.info"), "w") as f:
        f.write(f'{{"Version":"{version}","Time":"2024-01-02T03:04:05Z"}}')
    with open(os.path.join(up, "list"), "w") as f:
        f.write(version + "\n")


class Server:
    def __init__(self, goproxy, *extra):
        self.out = open(os.path.join(W, "gm.out"), "w+")
        self.log = open(os.path.join(W, "gm.log"), "a")
        data = tempfile.mkdtemp(dir=W)
        self.p = subprocess.Popen(
            [BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", data,
             "--goproxy", goproxy, "--gosumdb", "off", *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.p.stdout.readline()
        assert line.startswith("listening on "), line
        self.url = line.split()[-1]
        self.port = int(self.url.rsplit(":", 1)[1])

    def fds(self):
        return len(os.listdir(f"/proc/{self.p.pid}/fd"))

    def rss_mb(self):
        with open(f"/proc/{self.p.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


async def aget(port, path):
    """GET with asyncio (truly concurrent, unlike threads from a pool)."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    w.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = await r.read()
    w.close()
    return int(data.split()[1]), data


def get(port, path):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        data += b
    s.close()
    return int(data.split()[1]), data


async def slow_connections(port, n):
    conns = []
    for _ in range(n):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        conns.append((r, w))

    async def trickle():
        for _ in range(40):
            for _, w in conns:
                if not w.is_closing():
                    w.write(b"X")
            await asyncio.sleep(0.5)
    return conns, asyncio.create_task(trickle())


def figure_slow(up_root):
    srv = Server("file://" + up_root)
    try:
        base = (srv.fds(), srv.rss_mb())

        async def run():
            conns, t = await slow_connections(srv.port, 2000)
            await asyncio.sleep(2)
            peak = (srv.fds(), srv.rss_mb())
            t0 = time.monotonic()
            st, _ = await aget(srv.port, "/healthz")
            lat = (time.monotonic() - t0) * 1000
            await asyncio.sleep(11)
            after = (srv.fds(), srv.rss_mb())
            t.cancel()
            for _, w in conns:
                w.close()
            return peak, after, st, lat
        peak, after, st, lat = asyncio.run(run())
        print(f"1. 2,000 trickling connections: before {base[0]} fds / {base[1]:.0f} MB RSS; "
              f"with them {peak[0]} fds / {peak[1]:.0f} MB; 12 s later (header-read "
              f"timeout 10 s) {after[0]} fds / {after[1]:.0f} MB; a normal /healthz meanwhile: "
              f"{st} in {lat:.1f} ms")
    finally:
        srv.stop()


async def h2_stalled(port, conns, streams, path):
    held = []
    for _ in range(conns):
        r, w = await asyncio.open_connection("127.0.0.1", port)
        c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        c.initiate_connection()
        # A zero window: the server can send no body byte.
        c.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0,
                           h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1000})
        w.write(c.data_to_send())
        sent = 0
        # Open streams as the server allows (its concurrent-stream cap).
        deadline = time.monotonic() + 5
        while sent < streams and time.monotonic() < deadline:
            try:
                sid = c.get_next_available_stream_id()
                c.send_headers(sid, [(":method", "GET"), (":path", path),
                                     (":scheme", "http"), (":authority", "x")],
                               end_stream=True)
                sent += 1
            except h2.exceptions.TooManyStreamsError:
                w.write(c.data_to_send())
                try:
                    data = await asyncio.wait_for(r.read(65536), 0.2)
                    c.receive_data(data)
                except asyncio.TimeoutError:
                    pass
                continue
            w.write(c.data_to_send())
        # Read what the server says (headers, refusals), never acknowledge
        # data.
        answered = refused = 0
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            try:
                data = await asyncio.wait_for(r.read(65536), 0.3)
            except asyncio.TimeoutError:
                continue
            if not data:
                break
            for ev in c.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    answered += 1
                elif isinstance(ev, h2.events.StreamReset):
                    refused += 1
            w.write(c.data_to_send())
        held.append((r, w, c, (sent, answered, refused)))
    return held


def figure_h2(up_root):
    srv = Server("file://" + up_root)
    try:
        st, _ = get(srv.port, "/example.com/fifty/@v/v1.0.0.zip")
        assert st == 200
        base = (srv.fds(), srv.rss_mb())

        async def run():
            held = await h2_stalled(srv.port, 10, 200, "/example.com/fifty/@v/v1.0.0.zip")
            await asyncio.sleep(2)
            peak = (srv.fds(), srv.rss_mb())
            sent = sum(h[3][0] for h in held)
            answered = sum(h[3][1] for h in held)
            refused = sum(h[3][2] for h in held)
            t0 = time.monotonic()
            st, _ = await aget(srv.port, "/example.com/fifty/@v/v1.0.0.info")
            lat = (time.monotonic() - t0) * 1000
            for _, w, _, _ in held:
                w.close()
            return peak, (sent, answered, refused), st, lat
        peak, (sent, answered, refused), st, lat = asyncio.run(run())
        print(f"2. 10 HTTP/2 connections x 200 stalled streams (zero window, 50 MiB zip): "
              f"{sent} streams requested, {answered} answered and stalled, {refused} refused "
              f"(REFUSED_STREAM past the per-connection cap); before "
              f"{base[0]} fds / {base[1]:.0f} MB RSS, with them {peak[0]} fds / {peak[1]:.0f} MB; "
              f"a normal request meanwhile: {st} in {lat:.1f} ms")
    finally:
        srv.stop()


def figure_list(up_root, module="huge"):
    srv = Server("file://" + up_root)
    try:
        async def run():
            lats = []
            stop = False

            async def health():
                while not stop:
                    t0 = time.monotonic()
                    await aget(srv.port, "/healthz")
                    lats.append((time.monotonic() - t0) * 1000)
                    await asyncio.sleep(0.05)
            h = asyncio.create_task(health())
            t0 = time.monotonic()
            results = await asyncio.gather(*[
                aget(srv.port, f"/example.com/{module}/@v/list") for _ in range(16)])
            took = time.monotonic() - t0
            stop = True
            await h
            return lats, took, [r[0] for r in results], results[0][1].split(b"\r\n\r\n", 1)[1][:120]
        lats, took, statuses, first = asyncio.run(run())
        n = "1,000,000" if module == "huge" else "199,999"
        print(f"3. 16 clients x a {n}-version list: statuses {sorted(set(statuses))} "
              f"({first!r}), done in {took:.2f} s; /healthz meanwhile: n={len(lats)} "
              f"median {statistics.median(lats):.1f} ms, max {max(lats):.1f} ms; "
              f"peak RSS {srv.rss_mb():.0f} MB now")
    finally:
        srv.stop()


class CountingUpstream:
    """A module proxy that answers every .info after 300 ms and counts the
    connections open at once."""

    def __init__(self):
        self.open = 0
        self.peak = 0
        self.requests = 0

    async def handle(self, r, w):
        self.open += 1
        self.peak = max(self.peak, self.open)
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                self.requests += 1
                path = head.split()[1].decode()
                await asyncio.sleep(0.3)
                if path.endswith(".info"):
                    v = path.rsplit("/", 1)[1][:-5]
                    body = f'{{"Version":"{v}","Time":"2024-01-02T03:04:05Z"}}'.encode()
                    w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                else:
                    w.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.open -= 1
            w.close()


def figure_fanout():
    up = CountingUpstream()

    async def run():
        server = await asyncio.start_server(up.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        srv = Server(f"http://127.0.0.1:{port}")
        try:
            t0 = time.monotonic()
            results = await asyncio.gather(*[
                aget(srv.port, f"/example.com/m{i}/@v/v1.0.0.info")
                for i in range(500)])
            took = time.monotonic() - t0
            ok = sum(1 for r in results if r[0] == 200)
            # The same missing list 50 times: the negative cache.
            before = up.requests
            for _ in range(50):
                await aget(srv.port, "/example.com/missing/@v/list")
            missing = up.requests - before
            return ok, took, missing
        finally:
            srv.stop()
            server.close()
    ok, took, missing = asyncio.run(run())
    print(f"4. 500 distinct cold .info paths at once: {ok}/500 answered 200 in {took:.1f} s; "
          f"the upstream saw at most {up.peak} connections open at once; 50 requests for a "
          f"missing list made {missing} upstream request(s)")


def figure_shutdown(up_root, stalled_download):
    srv = Server("file://" + up_root)
    st, _ = get(srv.port, "/example.com/fifty/@v/v1.0.0.zip")
    assert st == 200
    stuck = []
    if stalled_download:
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /example.com/fifty/@v/v1.0.0.zip HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(1024)
        stuck.append(s)
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHo")
    stuck.append(s)
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(1024)
    stuck.append(s)
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    s = socket.create_connection(("127.0.0.1", srv.port))
    c.initiate_connection()
    s.sendall(c.data_to_send())
    stuck.append(s)
    time.sleep(0.5)
    t0 = time.monotonic()
    srv.p.send_signal(signal.SIGTERM)
    try:
        srv.p.wait(60)
        took = time.monotonic() - t0
        what = "a stalled download, " if stalled_download else ""
        print(f"5. SIGTERM with {what}a half-sent request, idle keep-alive "
              f"and HTTP/2 connections: exited in {took:.2f} s (drain deadline 30 s)")
    except subprocess.TimeoutExpired:
        print("5. SIGTERM with stuck clients: still running after 60 s")
    finally:
        srv.stop()
        for s in stuck:
            s.close()


def main():
    sys.stdout.reconfigure(line_buffering=True)
    up_root = os.path.join(W, "up")
    mk_module(up_root, "example.com/fifty", "v1.0.0", 50)
    huge = os.path.join(up_root, "example.com", "huge", "@v")
    os.makedirs(huge, exist_ok=True)
    with open(os.path.join(huge, "list"), "w") as f:
        for i in range(1_000_000):
            f.write(f"v1.0.{i}\n")
    big = os.path.join(up_root, "example.com", "big", "@v")
    os.makedirs(big, exist_ok=True)
    with open(os.path.join(big, "list"), "w") as f:
        for i in range(199_999):
            f.write(f"v1.0.{i}\n")
    try:
        figure_slow(up_root)
        figure_h2(up_root)
        figure_list(up_root)
        figure_list(up_root, "big")
        figure_fanout()
        figure_shutdown(up_root, False)
        figure_shutdown(up_root, True)
    finally:
        shutil.rmtree(W, ignore_errors=True)


if __name__ == "__main__":
    main()

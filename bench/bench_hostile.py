"""Peak memory and duration of hostile feeds and hostile requests to the desk.

    python bench/bench_hostile.py [--timeout 5] [--bomb-mib 1024] [--body-mib 100]

Feeds: each case is fetched by a fresh child process (so its peak RSS is its own) from a local
raw-socket server that misbehaves on purpose: stacked-gzip and deflate bombs that expand to
--bomb-mib, headers dripped a byte at a time, five dripped redirects, a dripped body. Printed:
what the fetch ended with, how long it took against the promise (2 x timeout + 15 s), and the
child's peak RSS. The desk: a review desk runs in a child process; unauthenticated bodies of
--body-mib are sent to /api/... and /login (declared, chunked, multipart), and the server's
peak RSS is printed before and after. The acceptance figure is < 600 MB for every case.
"""

from __future__ import annotations

import argparse
import gzip
import multiprocessing
import resource
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import contextlib

from listener.domain import PollState
from listener.sources.feed import FeedSource
from tests.support.fakes.hostile_http import HostileServer, deflate_bomb, stacked_gzip_bomb

REPO = Path(__file__).resolve().parents[1]


def fetch_child(url: str, timeout: float, out: Connection) -> None:
    source = FeedSource("hostile", url, timeout=timedelta(seconds=timeout), max_bytes=10_000_000)
    start = time.monotonic()
    try:
        batches = list(source.fetch(PollState()))
        outcome = f"ok, {sum(len(b.mentions) for b in batches)} mentions"
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {exc}"
    finally:
        source.close()
    elapsed = time.monotonic() - start
    out.send((outcome, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def run_fetch(url: str, timeout: float) -> tuple[str, float, float]:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(
        target=fetch_child, args=(url, timeout, child)
    )
    process.start()
    promise = 2 * timeout + 15
    if not parent.poll(promise + 30):
        process.kill()
        return (f"still running after {promise + 30:g}s", float("inf"), 0.0)
    result: tuple[str, float, float] = parent.recv()
    process.join()
    return result


def feeds(args: argparse.Namespace) -> None:
    size = args.bomb_mib << 20
    print(f"preparing bombs of {args.bomb_mib} MiB decoded ...", flush=True)
    two = stacked_gzip_bomb(size, layers=2)
    three = stacked_gzip_bomb(size, layers=3)
    deflated = deflate_bomb(size)
    with HostileServer(drip=0.05) as server:
        server.raw("/gzip2", {"Content-Encoding": "gzip, gzip"}, two)
        server.raw("/gzip3", {"Content-Encoding": "gzip, gzip, gzip"}, three)
        server.raw("/deflate", {"Content-Encoding": "deflate"}, deflated)
        server.raw("/mixed", {"Content-Encoding": "deflate, gzip"}, gzip.compress(deflated))
        server.drip("/drip")
        server.redirect_chain("/hop", hops=5)
        rss = b'<?xml version="1.0"?><rss version="2.0"><channel>' + b" " * 4000
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(rss) * 10}\r\n\r\n".encode()
        server.drip("/slow-body", response=head + rss * 10)
        cases = [
            (f"gzip, gzip ({len(two):,} bytes)", "/gzip2"),
            (f"gzip x3 ({len(three):,} bytes)", "/gzip3"),
            (f"deflate ({len(deflated):,} bytes)", "/deflate"),
            ("deflate, gzip", "/mixed"),
            ("headers dripped forever", "/drip"),
            ("five dripped redirects", "/hop/1"),
            ("body dripped", "/slow-body"),
        ]
        promise = 2 * args.timeout + 15
        print(f"\nfeeds: timeout {args.timeout:g}s, promise {promise:g}s, cap 10,000,000 bytes")
        print(f"{'case':34} {'seconds':>8} {'peak RSS MB':>12}  outcome")
        for name, path in cases:
            outcome, elapsed, peak = run_fetch(server.url(path), args.timeout)
            print(f"{name:34} {elapsed:8.1f} {peak:12.0f}  {outcome[:90]}", flush=True)


def desk_child(database: str, out: Connection) -> None:
    from listener.app import make_listener
    from listener.settings import validate_settings
    from listener.web.server import WebServer

    settings = validate_settings(
        {
            "database": {"url": database},
            "brands": [{"name": "O2", "terms": ["O2"]}],
            "outreach": {"templates_dir": str(REPO / "templates")},
            "scoring": {"model": "lexicon"},
        }
    )
    listener = make_listener(settings, sources=[])
    server = WebServer(listener, port=0, environ={"LISTENER_WEB_SECRET_KEY": "x" * 40})
    server.start()
    out.send(server.url)
    out.recv()
    server.stop()
    listener.close()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def send_raw(url: str, head: bytes, body: Iterator[bytes]) -> str:
    """Send `head` and then `body` until the server answers or closes; its status line."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        answer = b""
        try:
            for chunk in body:
                with contextlib.suppress(BlockingIOError):
                    answer += sock.recv(65536)
                if answer:
                    break
                sock.setblocking(True)
                sock.sendall(chunk)
                sock.setblocking(False)
        except OSError:
            pass
        sock.setblocking(True)
        sock.settimeout(10)
        try:
            while b"\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except OSError:
            pass
    return answer.split(b"\r\n", 1)[0].decode("latin-1") or "(connection closed)"


def chunks(total: int, size: int = 1 << 20, *, chunked: bool = False) -> Iterator[bytes]:
    block = b"a" * size
    sent = 0
    while sent < total:
        yield (f"{size:x}\r\n".encode() + block + b"\r\n") if chunked else block
        sent += size
    if chunked:
        yield b"0\r\n\r\n"


def framed(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def desk(args: argparse.Namespace) -> None:
    total = args.body_mib << 20
    with tempfile.TemporaryDirectory() as tmp:
        parent, child = multiprocessing.Pipe()
        process = multiprocessing.get_context("spawn").Process(
            target=desk_child, args=(f"sqlite:///{tmp}/desk.db", child)
        )
        process.start()
        url: str = parent.recv()
        assert process.pid is not None
        print(f"\ndesk: bodies of {args.body_mib} MiB, unauthenticated")
        print(f"server peak RSS at start: {peak_rss_mb(process.pid):.0f} MB")
        boundary = "bench"
        part = f'--{boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\n'.encode()
        cases: list[tuple[str, bytes, Iterator[bytes]]] = [
            (
                "JSON to /api/drafts/1/reject, declared",
                b"POST /api/drafts/1/reject HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\n" + f"Content-Length: {total}\r\n\r\n".encode(),
                chunks(total),
            ),
            (
                "JSON to /api/drafts/1/reject, chunked",
                b"POST /api/drafts/1/reject HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                chunks(total, chunked=True),
            ),
            (
                "form to /login, chunked",
                b"POST /login HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n",
                chunks(total, chunked=True),
            ),
            (
                "multipart field to /login, chunked",
                b"POST /login HTTP/1.1\r\nHost: x\r\n"
                + f"Content-Type: multipart/form-data; boundary={boundary}\r\n".encode()
                + b"Transfer-Encoding: chunked\r\n\r\n",
                iter([framed(part), *chunks(total, chunked=True)]),
            ),
        ]
        print(f"{'case':40} {'seconds':>8} {'server peak RSS MB':>19}  answer")
        for name, head, body in cases:
            start = time.monotonic()
            status = send_raw(url, head, body)
            elapsed = time.monotonic() - start
            print(f"{name:40} {elapsed:8.1f} {peak_rss_mb(process.pid):19.0f}  {status}")
        parent.send("stop")
        process.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--bomb-mib", type=int, default=1024)
    parser.add_argument("--body-mib", type=int, default=100)
    parser.add_argument("--only", choices=["feeds", "desk"], default=None)
    args: Any = parser.parse_args()
    if args.only != "desk":
        feeds(args)
    if args.only != "feeds":
        desk(args)


if __name__ == "__main__":
    main()

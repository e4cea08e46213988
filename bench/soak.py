"""Soak: the daemon and its workers left running against sources that trickle in new articles.

A local news web (its own process) serves `--sources` feeds on 20 loopback hosts; new articles
appear at `--rate` per second in all, spread over the feeds, each feed listing its newest 20. The
real daemon (`newsingest run`, forever) and, when distributed, a real worker run for `--minutes`.
Every `--every` seconds one line: RSS and open file descriptors of the daemon and the worker
(process trees), documents searchable, articles published so far. At the end: each figure's
average over the first and the last fifth of the run and the growth per hour fitted over the
second half (after warm-up), so "flat" is a number, not an impression.

    .venv/bin/python bench/soak.py [--minutes 30] [--sources 1000] [--rate 2] [--mode distributed]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from e2e_throughput import ROOT, _delete_indices, _delete_keys, _env, _es_searchable, _rss_mb, _sqlite_searchable, _tree, article_html

HOSTS = [f"127.0.2.{1 + i}" for i in range(20)]
NEWEST = 20


def _published(feed: int, elapsed_s: float, feeds: int, rate: float) -> int:
    """How many articles feed `feed` has published after `elapsed_s`: a share of the global rate,
    uneven between feeds (some busy, most quiet), deterministic so every poll agrees."""
    weight = 1 + (random.Random(feed).random() ** 3) * 9  # 1..10
    mean_weight = 3.25  # E[1 + 9 U^3]
    return 3 + int(elapsed_s * rate * weight / mean_weight / feeds)


def _serve(port_out: multiprocessing.connection.Connection, feeds: int, rate: float) -> None:
    from aiohttp import web

    from local_web import serve_forever

    started = time.time()

    async def feed(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        count = _published(n, time.time() - started, feeds, rate)
        base = f"http://{request.host}"
        items = "".join(
            f"<item><title>Story {n}-{k}</title><link>{base}/a/{n}/{k}.html</link><guid>{base}/a/{n}/{k}</guid></item>"
            for k in range(count - 1, max(count - NEWEST, 0) - 1, -1)
        )
        body = f"<?xml version='1.0'?><rss version='2.0'><channel><title>Wire {n}</title>{items}</channel></rss>"
        return web.Response(text=body, content_type="application/rss+xml")

    async def page(request: web.Request) -> web.Response:
        n, k = int(request.match_info["n"]), int(request.match_info["k"])
        return web.Response(text=article_html(n, k, request.host), content_type="text/html")

    async def published(_request: web.Request) -> web.Response:
        elapsed = time.time() - started
        return web.Response(text=str(sum(_published(n, elapsed, feeds, rate) for n in range(feeds))))

    app = web.Application()
    app.router.add_get("/feed/{n}.xml", feed)
    app.router.add_get("/a/{n}/{k}.html", page)
    app.router.add_get("/published", published)
    serve_forever(app, port_out, HOSTS)


def _fds(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            total += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
    return total


def _rss(pids: list[int]) -> float:
    return sum(_rss_mb(pid) for pid in pids)


def _published_so_far(port: int) -> int:
    import urllib.request

    with urllib.request.urlopen(f"http://{HOSTS[0]}:{port}/published", timeout=5) as resp:  # noqa: S310 (loopback)
        return int(resp.read())


def _slope_per_hour(times: list[float], values: list[float]) -> float:
    if len(times) < 3:
        return float("nan")
    return statistics.linear_regression(times, values).slope * 3600


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=2.0, help="new articles per second, all feeds together")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--mode", choices=["distributed", "standalone"], default="distributed")
    args = parser.parse_args()
    receive, send = multiprocessing.Pipe(duplex=False)
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(send, args.sources, args.rate), daemon=True)
    server.start()
    port = receive.recv()
    distributed = args.mode == "distributed"
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sources = tmp / "sources.yaml"
        sources.write_text(
            "sources:\n"
            + "".join(
                f"  - name: wire{n}\n    url: http://{HOSTS[n % len(HOSTS)]}:{port}/feed/{n}.xml\n"
                f"    allow_hosts: ['127.0.2.0/24:{port}']\n    poll_interval: 60s\n    min_interval: 30s\n    max_interval: 10m\n"
                for n in range(args.sources)
            ),
            encoding="utf-8",
        )
        tag = f"soak-{os.getpid()}"
        env = _env(tmp, sources, 2, distributed, tag)
        env["NEWSINGEST_POLLING__HOST_DELAY_S"] = "0.2"
        cli = [sys.executable, "-m", "ingest.cli", "--log-level", "WARNING"]
        logs = {name: (tmp / f"{name}.log").open("wb") for name in ("daemon", "worker")}
        if distributed:
            processes.append(subprocess.Popen([*cli, "worker", "--concurrency", "2"], env=env, cwd=tmp, stdout=logs["worker"], stderr=logs["worker"]))
            searchable = _es_searchable(f"bench-{tag}")
        else:
            searchable = _sqlite_searchable(tmp / f"data-{tag}" / "newsingest.sqlite3")
        daemon = subprocess.Popen([*cli, "run"], env=env, cwd=tmp, stdout=logs["daemon"], stderr=logs["daemon"])
        processes.insert(0, daemon)
        roles = ["daemon", "worker"][: len(processes)]
        print(f"soak: {args.sources} sources on {len(HOSTS)} hosts, ~{args.rate:g} new articles/s, {args.mode}, "
              f"{args.minutes:g} min; one line every {args.every:g}s", flush=True)
        print(f"{'min':>6}" + "".join(f"{r + ' MB':>12}{r + ' fds':>12}" for r in roles) + f"{'searchable':>12}{'published':>11}", flush=True)
        started = time.time()
        samples: list[tuple[float, list[float]]] = []
        try:
            while time.time() - started < args.minutes * 60:
                time.sleep(args.every)
                for role, process in zip(roles, processes, strict=True):
                    if process.poll() is not None:
                        raise SystemExit(f"the {role} exited with code {process.returncode}: see {logs[role].name}")
                figures: list[float] = []
                for process in processes:
                    tree = _tree(process.pid)
                    figures += [_rss(tree), float(_fds(tree))]
                try:
                    count = len(searchable())
                except Exception:  # the index is created with the first batch
                    count = 0
                elapsed = time.time() - started
                samples.append((elapsed, figures))
                print(f"{elapsed / 60:6.1f}" + "".join(f"{v:12.0f}" for v in figures) + f"{count:12d}{_published_so_far(port):11d}", flush=True)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
            server.kill()
            if distributed:
                _delete_indices(f"bench-{tag}")
                _delete_keys(f"bench-{tag}*")
        _summary(samples, roles)


def _summary(samples: list[tuple[float, list[float]]], roles: list[str]) -> None:
    if len(samples) < 5:
        print("too few samples for a summary (run longer)")
        return
    names = [f"{role} {what}" for role in roles for what in ("RSS MB", "fds")]
    fifth = max(1, len(samples) // 5)
    half = samples[len(samples) // 2 :]
    print(f"\n{'figure':16}{'first fifth':>13}{'last fifth':>12}{'growth/hour (2nd half)':>24}")
    for i, name in enumerate(names):
        first = statistics.fmean(s[1][i] for s in samples[:fifth])
        last = statistics.fmean(s[1][i] for s in samples[-fifth:])
        slope = _slope_per_hour([s[0] for s in half], [s[1][i] for s in half])
        print(f"{name:16}{first:13.1f}{last:12.1f}{slope:+24.1f}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()

"""What the API and event-path benchmarks share: a whole local stack on free ports, and an HTTP load
generator (keep-alive connections, bounded request count)."""

from __future__ import annotations

import contextlib
import http.client
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ops.emulator import free_port, patched_environ
from ops.stack import Ports, Stack


@contextlib.contextmanager
def running_stack() -> Iterator[Stack]:
    """Emulator (temporary state), provisioning, endpoint, ``chalice local`` and bridge; no UI. This
    process's boto3 is pointed at it while it runs."""
    with tempfile.TemporaryDirectory() as tmp:
        ports = Ports(aws=free_port(), endpoint=free_port(), api=free_port(), ui=free_port())
        stack = Stack(ports=ports, state_dir=Path(tmp), with_ui=False, echo=False)
        env = {k: v for k, v in stack.env().items() if k.startswith(("AWS_", "DIGITS_"))}
        with patched_environ(env):
            try:
                stack.start()
                yield stack
            finally:
                stack.stop()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def keep_alive_client(port: int, path: str, content_type: str = "image/png") -> Callable[[bytes], None]:
    """One keep-alive connection: call it with a body to POST it; raises unless the answer is 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": content_type, "Accept": "application/json"}

    def call(body: bytes) -> None:
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")

    return call


def run_clients(
    make_client: Callable[[], Callable[[bytes], None]], bodies: list[bytes], concurrency: int, total: int
) -> tuple[list[float], float]:
    """``total`` requests from ``concurrency`` clients (threads): (latencies in s, elapsed s). Any failed
    request fails the benchmark: figures from a run with errors would flatter us."""
    latencies: list[float] = []
    failures: list[Exception] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        call, mine = make_client(), []
        try:
            for i in range(index, total, concurrency):
                started = time.perf_counter()
                call(bodies[i % len(bodies)])
                mine.append(time.perf_counter() - started)
        except Exception as exc:
            with lock:
                failures.append(exc)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} of {concurrency} clients failed: {failures[0]}")
    return latencies, elapsed


def http_load(
    port: int, path: str, bodies: list[bytes], concurrency: int, total: int, content_type: str = "image/png"
) -> dict[str, float]:
    """``total`` POSTs from ``concurrency`` keep-alive connections: latency p50/p99 (ms) and requests/s."""
    latencies, elapsed = run_clients(lambda: keep_alive_client(port, path, content_type), bodies, concurrency, total)
    return {
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "requests_per_s": total / elapsed,
        "requests": total,
    }

"""What the API and event-path benchmarks share: a whole local stack on free ports, and an HTTP load
generator (keep-alive connections, bounded request count)."""

from __future__ import annotations

import contextlib
import http.client
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ops.emulator import free_port
from ops.stack import Ports, Stack


@contextlib.contextmanager
def running_stack() -> Iterator[Stack]:
    """Emulator (temporary state), provisioning, endpoint, ``chalice local`` and bridge; no UI. This
    process's boto3 is pointed at it while it runs."""
    with tempfile.TemporaryDirectory() as tmp:
        ports = Ports(aws=free_port(), endpoint=free_port(), api=free_port(), ui=free_port())
        stack = Stack(ports=ports, state_dir=Path(tmp), with_ui=False, echo=False)
        env = {k: v for k, v in stack.env().items() if k.startswith(("AWS_", "DIGITS_"))}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def http_load(
    port: int, path: str, bodies: list[bytes], concurrency: int, total: int, content_type: str = "image/png"
) -> dict[str, float]:
    """``total`` POSTs from ``concurrency`` keep-alive connections: latency p50/p99 (ms) and requests/s.
    Any non-200 answer fails the benchmark: figures from a run with errors would flatter us."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    headers = {"Content-Type": content_type, "Accept": "application/json"}

    def client(worker: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for i in range(worker, total, concurrency):
            started = time.perf_counter()
            connection.request("POST", path, bodies[i % len(bodies)], headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                with lock:
                    errors.append(str(response.status))
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} of {total} requests failed: {sorted(set(errors))}")
    return {
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "requests_per_s": total / elapsed,
        "requests": total,
    }

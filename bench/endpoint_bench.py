"""Endpoint benchmark: the local endpoint next to the real SageMaker serving stack, same archive, same run.

``python -m bench.endpoint_bench [--model model.tar.gz]`` (or ``python -m bench endpoint``) ->
``bench/results/endpoint.json``.

The two servers:

* local: ``python -m ops.endpoint --model ARCHIVE``, the in-process container (the archive's
  ``transform_fn`` called in a thread pool, one torch thread per forward pass, its defaults);
* real: :class:`ops.serving_stack.ServingStack`, TorchServe + sagemaker-pytorch-inference as the PyTorch
  inference container runs them (its defaults: one worker per CPU), what AWS runs.

Both are called on the container route, ``POST /invocations`` with a PNG (what SageMaker itself calls
inside the container), from keep-alive ``http.client`` connections in this process. Not through the
SageMaker Runtime route: the local endpoint forwards to the real stack with ``--container-url``, so that
route would put our own proxy in front of one of the two only.

Measured, with the same images (MNIST digits drawn 280x280, dark on white, PNG, like a canvas upload):

* time from process start to the first *successful* inference (a 200 from ``/invocations``, tried every
  50 ms), and to ``/ping`` 200 for comparison (TorchServe says Healthy before its workers have loaded
  the model); :data:`COLD_STARTS` starts of each;
* p50/p99 latency at concurrency 1 and throughput at concurrency 16;
* memory of the server's whole process group (psutil; the real stack is a launcher, a JVM and a Python
  process per worker): RSS summed (shared pages counted once per process that maps them) and PSS summed
  (shared pages split between those processes), once loaded and the largest seen after the load rounds.

The machine is shared and its speed drifts, so the two servers take turns: the cold starts alternate
and so does the order inside each round of requests; both run during the whole measurement, the idle one
waiting. Ratios are real stack / local endpoint from the same run. Request counts are bounded
(:data:`REQUESTS_C1` and :data:`REQUESTS_C16` per server); the run takes one to three minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil
import requests
from PIL import Image

from bench import save
from bench.stack import keep_alive_client, percentile, run_clients
from chalicelib.endpoint_client import PROBE_PNG
from model.contract import JSON
from ops.emulator import free_port
from ops.errors import OpsError
from ops.serving_stack import ServingStack, available

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = ROOT / "model" / "artifacts" / "model.tar.gz"
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
SAMPLES = 32
COLD_STARTS = 2
ROUNDS = 4
REQUESTS_C1 = 200  # per server, over the rounds
REQUESTS_C16 = 400
CONCURRENCY = 16
WARMUP = 32
POLL_S = 0.05
START_TIMEOUT_S = 180


def sample_images(count: int = SAMPLES) -> list[bytes]:
    """``count`` MNIST digits drawn 280x280, dark on white, as PNG: the last of the training split that
    the shipped model answers, so that every request times the answer path, not a refusal (a 3 written
    in two pieces is refused as not a digit and skipped)."""
    from ops.archive import load_archive

    model, handlers = load_archive(ARCHIVE)
    with gzip.open(MNIST_DIR / "train-images-idx3-ubyte.gz") as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    bodies: list[bytes] = []
    for digit in raw[::-1]:
        picture = Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BICUBIC)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        answer, _ = handlers.transform_fn(model, buffer.getvalue(), "image/png", JSON)
        if "error" in json.loads(answer):
            continue
        bodies.append(buffer.getvalue())
        if len(bodies) == count:
            return bodies
    return bodies


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# ---------------------------------------------------------------------------------------- servers


@dataclass
class Server:
    """A started server: where to call it, its process group (``pid`` leads it), how long it took to serve."""

    name: str
    port: int
    pid: int
    stop: Callable[[], None]
    first_inference_s: float = 0.0
    ping_s: float | None = None
    memory: list[dict[str, float]] = field(default_factory=list)

    def client(self) -> Callable[[bytes], None]:
        """A keep-alive connection to ``POST /invocations``; raises unless the answer is 200."""
        return keep_alive_client(self.port, "/invocations")

    def group(self) -> list[psutil.Process]:
        """Every process of the server's process group: the real stack's JVM leaves the launcher's tree
        (TorchServe daemonizes it) but stays in its group, and its workers with it."""
        found = []
        for process in psutil.process_iter():
            with contextlib.suppress(OSError, psutil.Error):
                if os.getpgid(process.pid) == self.pid:
                    found.append(process)
        return found

    def sample_memory(self) -> dict[str, float]:
        """RSS and PSS (MB) summed over the process group."""
        rss = pss = 0
        for process in self.group():
            with contextlib.suppress(psutil.Error):
                info = process.memory_full_info()
                rss, pss = rss + info.rss, pss + info.pss
        sample = {"rss_mb": round(rss / 2**20, 1), "pss_mb": round(pss / 2**20, 1)}
        self.memory.append(sample)
        return sample

    def processes(self) -> list[dict[str, object]]:
        """What the group is made of: each process's name, threads and ``OMP_NUM_THREADS``."""
        found = []
        for process in self.group():
            with contextlib.suppress(psutil.Error):
                found.append(
                    {
                        "name": process.name(),
                        "threads": process.num_threads(),
                        "rss_mb": round(process.memory_info().rss / 2**20, 1),
                        "omp_num_threads": process.environ().get("OMP_NUM_THREADS"),
                    }
                )
        return found


@contextlib.contextmanager
def ping_watch(port: int) -> Iterator[list[float]]:
    """Polls ``GET /ping`` every 50 ms in a thread while the block runs; yields a list that receives the
    time of the first 200 (``time.perf_counter``)."""
    seen: list[float] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                    seen.append(time.perf_counter())
                    return
            done.wait(POLL_S)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        done.set()
        thread.join()


def wait_for_inference(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until ``POST /invocations`` with a PNG answers 200 (as :meth:`ServingStack.wait_until_serving`)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise OpsError(f"ops.endpoint exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(requests.RequestException):
            response = requests.post(
                f"http://127.0.0.1:{port}/invocations", data=PROBE_PNG, headers={"Content-Type": "image/png"}, timeout=5
            )
            if response.status_code == 200:
                return
        time.sleep(POLL_S)
    raise OpsError(f"ops.endpoint answered no inference within {START_TIMEOUT_S} s")


def start_local(archive: Path, workdir: Path) -> Server:
    port, log = free_port(), workdir / "endpoint.log"
    workdir.mkdir(parents=True, exist_ok=True)
    with ping_watch(port) as ping, open(log, "wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ops.endpoint",
                "--model",
                str(archive),
                "--port",
                str(port),
                "--log-level",
                "WARNING",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=out,
            start_new_session=True,  # its own process group, as the real stack's (see Server.group)
        )

        def stop() -> None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

        try:
            wait_for_inference(port, process, log)
        except BaseException:
            stop()
            raise
        ready = time.perf_counter() - started
    return Server("local", port, process.pid, stop, ready, ping[0] - started if ping else None)


def start_real(archive: Path, workdir: Path) -> Server:
    stack = ServingStack(archive, free_port(), workdir)
    with ping_watch(stack.port) as ping:
        started = time.perf_counter()
        try:
            stack.start(timeout=START_TIMEOUT_S, poll_s=POLL_S)
        except BaseException:
            stack.stop()
            raise
        ready = time.perf_counter() - started
    assert stack.process is not None
    return Server("real", stack.port, stack.process.pid, stack.stop, ready, ping[0] - started if ping else None)


STARTERS = {"local": start_local, "real": start_real}


# ------------------------------------------------------------------------------------------- run


def summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    return {
        "p50_ms": _ms(percentile(latencies, 50)),
        "p99_ms": _ms(percentile(latencies, 99)),
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "requests": len(latencies),
    }


def _turns(round_index: int) -> tuple[str, str]:
    """Who goes first in this round: they swap every round."""
    return ("local", "real") if round_index % 2 == 0 else ("real", "local")


def run(archive: Path = ARCHIVE) -> dict:
    if reason := available():
        raise OpsError(f"the real serving stack is not installed ({reason})")
    bodies = sample_images()
    load_before = os.getloadavg()[0]
    starts: dict[str, list[Server]] = {"local": [], "real": []}
    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory(prefix="endpoint-bench-") as tmp:
        try:
            for i in range(COLD_STARTS):  # alternate who starts first; the last pair stays up
                for name in _turns(i):
                    server = STARTERS[name](archive, Path(tmp) / f"{name}-{i}")
                    starts[name].append(server)
                    servers[name] = server
                if i < COLD_STARTS - 1:
                    for server in servers.values():
                        server.stop()
                    servers.clear()

            for server in servers.values():
                call = server.client()
                for body in bodies[:WARMUP]:
                    call(body)
                run_clients(server.client, bodies, CONCURRENCY, 2 * CONCURRENCY)
            loaded = {name: server.sample_memory() for name, server in servers.items()}

            c1: dict[str, list[float]] = {"local": [], "real": []}
            c16: dict[str, tuple[list[float], float]] = {"local": ([], 0.0), "real": ([], 0.0)}
            for i in range(ROUNDS):
                for name in _turns(i):
                    call = servers[name].client()
                    for j in range(REQUESTS_C1 // ROUNDS):
                        started = time.perf_counter()
                        call(bodies[j % len(bodies)])
                        c1[name].append(time.perf_counter() - started)
                for name in _turns(i + 1):
                    latencies, elapsed = run_clients(servers[name].client, bodies, CONCURRENCY, REQUESTS_C16 // ROUNDS)
                    c16[name] = (c16[name][0] + latencies, c16[name][1] + elapsed)
                    servers[name].sample_memory()
            groups = {name: server.processes() for name, server in servers.items()}
        finally:
            for server in servers.values():
                server.stop()
    load_after = os.getloadavg()[0]

    result: dict[str, dict] = {}
    for name, server in servers.items():
        result[name] = {
            "first_inference_s": [round(s.first_inference_s, 2) for s in starts[name]],
            "ping_200_s": [None if s.ping_s is None else round(s.ping_s, 2) for s in starts[name]],
            "concurrency_1": summary(c1[name], sum(c1[name])),
            f"concurrency_{CONCURRENCY}": summary(*c16[name]),
            "memory_loaded": loaded[name],
            "memory_peak": {key: max(m[key] for m in server.memory) for key in ("rss_mb", "pss_mb")},
            "processes": groups[name],
        }
    return {
        "rows": rows(result),
        "input": "MNIST digits drawn 280x280 dark on white, PNG; POST /invocations",
        "route": "POST /invocations (the container contract) on both, keep-alive http.client connections",
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
        "cpus": os.cpu_count(),
        "rounds": ROUNDS,
        "cold_starts": COLD_STARTS,
        **result,
    }


def rows(result: dict[str, dict]) -> list[list]:
    """``[metric, real stack, local endpoint, real / local, target]``."""
    local, real = result["local"], result["real"]
    c16 = f"concurrency_{CONCURRENCY}"

    def row(metric: str, real_value: float, local_value: float, unit: str) -> list:
        return [
            metric,
            f"{real_value} {unit}",
            f"{local_value} {unit} local endpoint",
            f"{real_value / local_value:.2f}x",
            "",
        ]

    first = {name: round(statistics.mean(r["first_inference_s"]), 2) for name, r in result.items()}
    return [
        row(
            "real stack: p50 latency, concurrency 1",
            real["concurrency_1"]["p50_ms"],
            local["concurrency_1"]["p50_ms"],
            "ms",
        ),
        row(
            "real stack: p99 latency, concurrency 1",
            real["concurrency_1"]["p99_ms"],
            local["concurrency_1"]["p99_ms"],
            "ms",
        ),
        row(
            f"real stack: throughput, concurrency {CONCURRENCY}",
            real[c16]["requests_per_s"],
            local[c16]["requests_per_s"],
            "req/s",
        ),
        row(f"real stack: p99 latency, concurrency {CONCURRENCY}", real[c16]["p99_ms"], local[c16]["p99_ms"], "ms"),
        row("real stack: process start -> first successful inference", first["real"], first["local"], "s"),
        row(
            "real stack: RSS (process group, after load)",
            real["memory_peak"]["rss_mb"],
            local["memory_peak"]["rss_mb"],
            "MB",
        ),
        row(
            "real stack: PSS (process group, after load)",
            real["memory_peak"]["pss_mb"],
            local["memory_peak"]["pss_mb"],
            "MB",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the local endpoint next to the real serving stack")
    parser.add_argument("--model", type=Path, default=ARCHIVE, help=f"model.tar.gz (default {ARCHIVE})")
    save("endpoint", run(parser.parse_args(argv).model))
    return 0


if __name__ == "__main__":
    sys.exit(main())

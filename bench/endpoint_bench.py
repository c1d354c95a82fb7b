"""Local endpoint benchmark: what serving costs on top of the handlers, and what micro-batching buys.

``python -m bench.endpoint_bench [--model model.tar.gz]`` (or ``python -m bench endpoint``) ->
``bench/results/endpoint.json``.

One run measures, with the same images (held-out-style MNIST digits drawn 280x280, dark on white, PNG,
like a canvas upload):

* baseline: the archive's own handlers called in this process (``input_fn`` -> ``predict_fn`` ->
  ``output_fn``), no HTTP; also ``predict_fn`` alone and ``predict_many`` over 16 requests;
* the server (``python -m model.serve``) through ``POST /endpoints/{name}/invocations``, the route boto3
  uses: p50/p99 latency and throughput at concurrency 1 and 16, with micro-batching and without it
  (``--max-batch-size 1``);
* cold start: process start -> ``/ping`` answers 200, next to ``python -c "import torch"``.

The machine is shared and its load changes by the second, so each comparison is *paired*: at
concurrency 1 every server request alternates with one in-process call of the same image; the two
16-way runs alternate in rounds between a batching and a non-batching server; each cold start follows
its own ``import torch``. Both servers run during the whole measurement, the idle one sleeping.

Targets: serving overhead under 3x the in-process handlers at concurrency 1; at concurrency 16,
batching at least 2x the throughput without it; ready in under 3 s. Request counts are bounded (a few
hundred): the run takes one to two minutes.
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
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench import save
from bench.stack import keep_alive_client, run_clients

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = ROOT / "model" / "artifacts" / "model.tar.gz"
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
RESULTS = ROOT / "bench" / "results"
ENDPOINT = "digits-bench"
SAMPLES = 32
CONCURRENCY = 16
REQUESTS_C1 = 150
ROUNDS_C16 = 4
REQUESTS_PER_ROUND = 96
WARMUP = 16
TORCH_THREADS = 1  # model.serve's default --torch-threads


def sample_images(count: int = SAMPLES) -> list[bytes]:
    """``count`` MNIST digits (the last of the training split) drawn 280x280, dark on white, as PNG."""
    with gzip.open(MNIST_DIR / "train-images-idx3-ubyte.gz") as f:
        raw = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    bodies = []
    for digit in raw[-count:]:
        picture = Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BICUBIC)
        buffer = io.BytesIO()
        picture.save(buffer, format="PNG")
        bodies.append(buffer.getvalue())
    return bodies


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


# ------------------------------------------------------------------------------------- in-process


@contextlib.contextmanager
def archive_handlers(archive: Path) -> Iterator[Any]:
    """The archive's handlers loaded in this process, as the server loads them (one torch thread, like
    the server); the checkout's ``model`` modules are put back afterwards for the other benchmarks."""
    import torch

    from model.archive import unpack
    from model.serve import load_handlers

    saved_modules = {n: m for n, m in sys.modules.items() if n in ("model", "inference") or n.startswith("model.")}
    saved_path, threads = list(sys.path), torch.get_num_threads()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            handlers = load_handlers(unpack(archive, Path(tmp)))
            torch.set_num_threads(TORCH_THREADS)
            yield handlers
        finally:
            torch.set_num_threads(threads)
            for name in [n for n in sys.modules if n in ("model", "inference") or n.startswith("model.")]:
                del sys.modules[name]
            sys.modules.update(saved_modules)
            sys.path[:] = saved_path


def handler_costs(h: Any, bodies: list[bytes]) -> dict[str, float]:
    """Median ms of ``predict_fn`` alone and per image of one ``predict_many`` over 16 requests."""
    datas = [h.input_fn(body, "image/png") for body in bodies]
    single, batched = [], []
    for _ in range(3):
        for data in datas:
            started = time.perf_counter()
            h.predict_fn(data, h.model)
            single.append(time.perf_counter() - started)
        started = time.perf_counter()
        h.predict_many(datas[:CONCURRENCY], h.model)
        batched.append((time.perf_counter() - started) / CONCURRENCY)
    return {"predict_fn_ms": _ms(statistics.median(single)),
            "predict_many_16_per_image_ms": _ms(statistics.median(batched))}


# ---------------------------------------------------------------------------------------- servers


class ServerProcess:
    """``python -m model.serve`` on a free port; ``ready_s`` is process start -> /ping 200."""

    def __init__(self, archive: Path, *args: str) -> None:
        from ops.emulator import free_port

        self.port = free_port()
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop)
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "model.serve", "--model", str(archive), "--port", str(self.port),
             "--endpoint-name", ENDPOINT, "--log-level", "WARNING", *args],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log,
        )
        deadline = started + 120
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"model.serve exited: {self.log.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/ping", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.005)
        else:
            self.stop()
            raise RuntimeError("model.serve not ready within 120 s")
        self.ready_s = time.perf_counter() - started

    def metrics(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as resp:
            return json.loads(resp.read())

    def connection(self) -> Callable[[bytes], None]:
        """A keep-alive client: call it with a PNG body; raises unless the answer is 200."""
        return keep_alive_client(self.port, f"/endpoints/{ENDPOINT}/invocations")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def torch_import_s() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - started


def concurrent_load(server: ServerProcess, bodies: list[bytes], total: int) -> tuple[list[float], float]:
    """``total`` requests over ``CONCURRENCY`` keep-alive connections: (latencies in s, elapsed s)."""
    return run_clients(server.connection, bodies, CONCURRENCY, total)


def summary(latencies: list[float], elapsed: float) -> dict[str, float]:
    return {"p50_ms": _ms(percentile(latencies, 50)), "p99_ms": _ms(percentile(latencies, 99)),
            "images_per_s": round(len(latencies) / elapsed, 1), "requests": len(latencies)}


# ------------------------------------------------------------------------------------------- run


def run(archive: Path = ARCHIVE) -> dict:
    bodies = sample_images()
    load_before = os.getloadavg()[0]
    with archive_handlers(archive) as h:

        def pipeline(body: bytes) -> None:
            h.output_fn(h.predict_fn(h.input_fn(body, "image/png"), h.model), "application/json")

        torch_s = [torch_import_s()]
        on = ServerProcess(archive)
        torch_s.append(torch_import_s())
        off = ServerProcess(archive, "--max-batch-size", "1")
        try:
            call = on.connection()
            for body in bodies[:WARMUP]:
                pipeline(body)
                call(body)
                off.connection()(body)
            local, served = [], []
            for i in range(REQUESTS_C1):  # paired: the same image in-process, then through the server
                body = bodies[i % len(bodies)]
                started = time.perf_counter()
                pipeline(body)
                local.append(time.perf_counter() - started)
                started = time.perf_counter()
                call(body)
                served.append(time.perf_counter() - started)
            costs = handler_costs(h, bodies)
            runs: dict[str, tuple[list[float], float]] = {"on": ([], 0.0), "off": ([], 0.0)}
            for _ in range(ROUNDS_C16):  # alternate, so both see the same mix of machine load
                for name, server in (("on", on), ("off", off)):
                    latencies, elapsed = concurrent_load(server, bodies, REQUESTS_PER_ROUND)
                    runs[name] = (runs[name][0] + latencies, runs[name][1] + elapsed)
            batching = {"on": on.metrics()["batching"], "off": off.metrics()["batching"]}
        finally:
            on.stop()
            off.stop()
    load_after = os.getloadavg()[0]

    handlers_ms = statistics.median(local) * 1000
    c1 = summary(served, sum(served))
    c16_on, c16_off = summary(*runs["on"]), summary(*runs["off"])
    ready = [on.ready_s, off.ready_s]
    ready_s, torch_mean_s = statistics.mean(ready), statistics.mean(torch_s)
    in_process_rate = 1000 / handlers_ms
    overhead = c1["p50_ms"] / handlers_ms
    speedup = c16_on["images_per_s"] / c16_off["images_per_s"]
    handlers = f"{round(handlers_ms, 2)} in-process handlers"
    rows = [
        ["p50 latency, concurrency 1 (ms)", c1["p50_ms"], handlers, round(overhead, 2), "< 3x"],
        ["p99 latency, concurrency 1 (ms)", c1["p99_ms"], handlers, round(c1["p99_ms"] / handlers_ms, 2), ""],
        [f"p50 latency, concurrency {CONCURRENCY}, batching (ms)", c16_on["p50_ms"], handlers,
         round(c16_on["p50_ms"] / handlers_ms, 2), ""],
        [f"p99 latency, concurrency {CONCURRENCY}, batching (ms)", c16_on["p99_ms"], handlers,
         round(c16_on["p99_ms"] / handlers_ms, 2), ""],
        ["throughput, concurrency 1 (images/s)", c1["images_per_s"], f"{round(in_process_rate, 1)} in-process",
         round(c1["images_per_s"] / in_process_rate, 2), ""],
        [f"throughput, concurrency {CONCURRENCY}, batching (images/s)", c16_on["images_per_s"],
         f"{c16_off['images_per_s']} without batching", round(speedup, 2), ">= 2x"],
        ["cold start: process start -> /ping 200 (s)", round(ready_s, 2),
         f"{round(torch_mean_s, 2)} `import torch` alone", round(ready_s / torch_mean_s, 2), "< 3 s"],
    ]
    return {
        "rows": rows,
        "input": "MNIST digits drawn 280x280 dark on white, PNG; POST /endpoints/{name}/invocations",
        "load_average_1min": [round(load_before, 2), round(load_after, 2)],
        "cpus": os.cpu_count(),
        "torch_threads": TORCH_THREADS,
        "in_process_ms": {"handlers_p50_ms": round(handlers_ms, 2), **costs},
        "concurrency_1": c1,
        "concurrency_16": {"batching": c16_on, "no_batching": c16_off},
        "batching_counters": batching,
        "ready_s": [round(r, 2) for r in ready],
        "torch_import_s": [round(t, 2) for t in torch_s],
        "targets_met": {
            "overhead_c1_under_3x": overhead < 3,
            "batching_c16_at_least_2x": speedup >= 2,
            "ready_under_3s": ready_s < 3,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the local endpoint (model.serve)")
    parser.add_argument("--model", type=Path, default=ARCHIVE, help=f"model.tar.gz (default {ARCHIVE})")
    save("endpoint", run(parser.parse_args(argv).model))
    return 0


if __name__ == "__main__":
    sys.exit(main())

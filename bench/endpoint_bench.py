"""Local endpoint benchmark: what serving costs on top of the handlers, and what micro-batching buys.

``python -m bench.endpoint_bench`` (or ``python -m bench endpoint``) -> ``bench/results/endpoint.json``.

One run measures, on the same machine and the same images (held-out MNIST digits drawn 280x280, dark
on white, as PNG, like a canvas upload):

* the baseline: the archive's own handlers called in this process (``input_fn`` -> ``predict_fn`` ->
  ``output_fn``, and ``predict_fn`` alone), no HTTP;
* the server (``python -m model.serve``) through ``POST /endpoints/{name}/invocations``, the route boto3
  uses: p50/p99 latency and throughput at concurrency 1 and 16, with micro-batching and without it
  (``--max-batch-size 1``);
* cold start: process start -> ``/ping`` answers 200, next to ``python -c "import torch"``.

Targets: serving overhead under 3x the in-process handlers at concurrency 1; at concurrency 16,
batching at least 2x the throughput without it; ready in under 3 s. Request counts are bounded
(a few hundred per measurement): the whole run takes about a minute.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = ROOT / "model" / "artifacts" / "model.tar.gz"
MNIST_DIR = ROOT.parent / "shared" / "data" / "mnist"
RESULTS = ROOT / "bench" / "results"
ENDPOINT = "digits-bench"
SAMPLES = 32
CONCURRENCY = 16
REQUESTS_C1 = 150
REQUESTS_C16 = 320
WARMUP = 16
TORCH_THREADS = 1  # model.serve's default --torch-threads


def sample_images(count: int = SAMPLES) -> list[bytes]:
    """``count`` MNIST digits from the end of the training split, drawn large (280x280) dark on white, PNG."""
    import gzip
    import io

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


# ------------------------------------------------------------------------------------- in-process


@contextlib.contextmanager
def archive_handlers(archive: Path) -> Iterator[object]:
    """The archive's handlers loaded in this process, as the server loads them; the checkout's ``model``
    modules are put back afterwards so that other benchmarks in this process are not affected."""
    from model.archive import unpack
    from model.serve import load_handlers

    saved_modules = {n: m for n, m in sys.modules.items() if n in ("model", "inference") or n.startswith("model.")}
    saved_path = list(sys.path)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            yield load_handlers(unpack(archive, Path(tmp)))
        finally:
            for name in [n for n in sys.modules if n in ("model", "inference") or n.startswith("model.")]:
                del sys.modules[name]
            sys.modules.update(saved_modules)
            sys.path[:] = saved_path


def in_process(bodies: list[bytes], archive: Path) -> dict[str, float]:
    """Median milliseconds per image of the handlers without any serving around them."""
    import torch

    with archive_handlers(archive) as h:
        model = h.model  # type: ignore[attr-defined]
        threads = torch.get_num_threads()
        torch.set_num_threads(TORCH_THREADS)  # as the server runs it

        def pipeline(body: bytes) -> object:
            data = h.input_fn(body, "image/png")  # type: ignore[attr-defined]
            return h.output_fn(h.predict_fn(data, model), "application/json")  # type: ignore[attr-defined]

        for body in bodies[:WARMUP]:
            pipeline(body)
        full, predict = [], []
        datas = [h.input_fn(body, "image/png") for body in bodies]  # type: ignore[attr-defined]
        for _ in range(4):
            for body, data in zip(bodies, datas, strict=True):
                started = time.perf_counter()
                pipeline(body)
                full.append(time.perf_counter() - started)
                started = time.perf_counter()
                h.predict_fn(data, model)  # type: ignore[attr-defined]
                predict.append(time.perf_counter() - started)
        batched = []
        for _ in range(8):
            started = time.perf_counter()
            h.predict_many(datas[:CONCURRENCY], model)  # type: ignore[attr-defined]
            batched.append((time.perf_counter() - started) / CONCURRENCY)
        torch.set_num_threads(threads)
    return {
        "handlers_ms": statistics.median(full) * 1000,
        "predict_fn_ms": statistics.median(predict) * 1000,
        "predict_many_16_per_image_ms": statistics.median(batched) * 1000,
    }


# ---------------------------------------------------------------------------------------- server


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
        deadline = started + 60
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
            raise RuntimeError("model.serve not ready within 60 s")
        self.ready_s = time.perf_counter() - started

    def metrics(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as resp:
            return json.loads(resp.read())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def load(port: int, bodies: list[bytes], concurrency: int, total: int) -> dict[str, float]:
    """``total`` requests from ``concurrency`` keep-alive connections; latency percentiles and images/s."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    path = f"/endpoints/{ENDPOINT}/invocations"
    headers = {"Content-Type": "image/png", "Accept": "application/json"}

    def client(worker: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
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
        raise RuntimeError(f"{len(errors)} requests failed: {sorted(set(errors))}")
    return {
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "images_per_s": total / elapsed,
        "requests": total,
    }


def measure_server(archive: Path, bodies: list[bytes], *args: str, concurrencies: tuple[int, ...]) -> dict:
    server = ServerProcess(archive, *args)
    try:
        load(server.port, bodies, 1, WARMUP)
        out: dict = {"ready_s": server.ready_s}
        for concurrency in concurrencies:
            total = REQUESTS_C1 if concurrency == 1 else REQUESTS_C16
            out[f"c{concurrency}"] = load(server.port, bodies, concurrency, total)
        out["batching"] = server.metrics()["batching"]
        return out
    finally:
        server.stop()


def torch_import_s() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - started


# ------------------------------------------------------------------------------------------- run


def _r(value: float, digits: int = 2) -> float:
    return round(value, digits)


def run(archive: Path = ARCHIVE) -> dict:
    bodies = sample_images()
    # The machine is shared: baselines are measured before and after the servers and averaged.
    first = in_process(bodies, archive)
    torch_s = [torch_import_s()]
    batched = measure_server(archive, bodies, concurrencies=(1, CONCURRENCY))
    torch_s.append(torch_import_s())
    unbatched = measure_server(archive, bodies, "--max-batch-size", "1", concurrencies=(CONCURRENCY,))
    second = in_process(bodies, archive)
    baseline = {key: (first[key] + second[key]) / 2 for key in first}
    ready_s = statistics.mean([batched["ready_s"], unbatched["ready_s"]])
    torch_mean_s = statistics.mean(torch_s)
    handlers_ms = baseline["handlers_ms"]
    c1, c16 = batched["c1"], batched[f"c{CONCURRENCY}"]
    c16_off = unbatched[f"c{CONCURRENCY}"]
    in_process_rate = 1000 / handlers_ms
    rows = [
        ["p50 latency, concurrency 1 (ms)", _r(c1["p50_ms"]), f"{_r(handlers_ms)} in-process handlers",
         _r(c1["p50_ms"] / handlers_ms), "< 3x"],
        ["p99 latency, concurrency 1 (ms)", _r(c1["p99_ms"]), f"{_r(handlers_ms)} in-process handlers",
         _r(c1["p99_ms"] / handlers_ms), ""],
        [f"p50 latency, concurrency {CONCURRENCY} (ms)", _r(c16["p50_ms"]), f"{_r(handlers_ms)} in-process handlers",
         _r(c16["p50_ms"] / handlers_ms), ""],
        [f"p99 latency, concurrency {CONCURRENCY} (ms)", _r(c16["p99_ms"]), f"{_r(handlers_ms)} in-process handlers",
         _r(c16["p99_ms"] / handlers_ms), ""],
        ["throughput, concurrency 1 (images/s)", _r(c1["images_per_s"], 1),
         f"{_r(in_process_rate, 1)} in-process handlers", _r(c1["images_per_s"] / in_process_rate), ""],
        [f"throughput, concurrency {CONCURRENCY}, batching (images/s)", _r(c16["images_per_s"], 1),
         f"{_r(c16_off['images_per_s'], 1)} without batching", _r(c16["images_per_s"] / c16_off["images_per_s"]),
         ">= 2x"],
        ["cold start: process start -> /ping 200 (s)", _r(ready_s),
         f"{_r(torch_mean_s)} `import torch` alone", _r(ready_s / torch_mean_s), "< 3 s"],
    ]
    return {
        "rows": rows,
        "input": "held-out MNIST digits drawn 280x280 dark on white, PNG (~2-4 KB); POST /endpoints/{name}/invocations",
        "in_process_ms": {k: _r(v, 3) for k, v in baseline.items()},
        "in_process_ms_before_and_after": [{k: _r(v, 3) for k, v in b.items()} for b in (first, second)],
        "torch_threads": TORCH_THREADS,
        "torch_import_s": [_r(t, 3) for t in torch_s],
        "ready_s": [_r(batched["ready_s"], 3), _r(unbatched["ready_s"], 3)],
        "batching_on": batched,
        "batching_off": unbatched,
        "targets_met": {
            "overhead_c1_under_3x": c1["p50_ms"] / handlers_ms < 3,
            "batching_c16_at_least_2x": c16["images_per_s"] / c16_off["images_per_s"] >= 2,
            "ready_under_3s": ready_s < 3,
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the local endpoint (model.serve)")
    parser.add_argument("--model", type=Path, default=ARCHIVE, help=f"model.tar.gz (default {ARCHIVE})")
    result = run(parser.parse_args(argv).model)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "endpoint.json").write_text(json.dumps(result, indent=2) + "\n")
    for row in result["rows"]:
        print(" | ".join(str(cell) for cell in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())

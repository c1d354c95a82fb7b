"""API benchmark: ``POST /predict`` end to end through ``chalice local`` (sniffing, the endpoint call,
the image and result in S3, the record in DynamoDB) next to the endpoint alone, in the same run on the
same images; plus what a Lambda cold start costs (bundle size, import time of ``app.py``).

``python -m bench.api_bench`` -> ``bench/results/api.json``. Target: API p50 under 25 ms at concurrency 1.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench import save
from bench.endpoint_bench import sample_images
from bench.stack import http_load, running_stack
from chalicelib.config import load

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
REQUESTS = {1: 150, 8: 240}
WARMUP = 16


def _import_seconds(code: str, cwd: Path, runs: int = 5) -> float:
    """Median wall time of a fresh interpreter running ``code`` (what a Lambda cold start pays)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], cwd=cwd, check=True, env=os.environ.copy())
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def lambda_bundle() -> dict[str, float]:
    """``chalice package`` (terraform format, see the notes) -> deployment.zip size and file count."""
    with tempfile.TemporaryDirectory() as tmp:
        chalice = Path(sys.executable).with_name("chalice")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGITS_", "AWS_ENDPOINT_URL"))}
        subprocess.run(
            [str(chalice), "package", "--stage", "dev", "--pkg-format", "terraform", tmp],
            cwd=ROOT / "chalice_app",
            check=True,
            capture_output=True,
            timeout=600,
            env={**env, "AWS_DEFAULT_REGION": load("dev").region},
        )
        archive = Path(tmp) / "deployment.zip"
        with zipfile.ZipFile(archive) as zf:
            files = len(zf.namelist())
        return {"zip_mb": archive.stat().st_size / 1e6, "files": files}


def run() -> dict:
    bodies = sample_images()
    endpoint_path = f"/endpoints/{load('local').endpoint_name}/invocations"
    with running_stack() as stack:
        ports = stack.ports
        http_load(ports.api, "/predict", bodies, 1, WARMUP)
        http_load(ports.endpoint, endpoint_path, bodies, 1, WARMUP)
        api = {c: http_load(ports.api, "/predict", bodies, c, n) for c, n in REQUESTS.items()}
        endpoint = {c: http_load(ports.endpoint, endpoint_path, bodies, c, n) for c, n in REQUESTS.items()}
        app_import = _import_seconds("import app", ROOT / "chalice_app")
    baseline_import = _import_seconds("import boto3", ROOT / "chalice_app")
    bundle = lambda_bundle()

    rows = []
    for c in REQUESTS:
        for stat in ("p50_ms", "p99_ms"):
            ratio = api[c][stat] / endpoint[c][stat]
            target = "< 25 ms" if (c, stat) == (1, "p50_ms") else ""
            rows.append(
                [
                    f"POST /predict {stat[:3]} at concurrency {c}",
                    f"{api[c][stat]:.1f} ms",
                    f"endpoint alone {endpoint[c][stat]:.1f} ms",
                    f"{ratio:.2f}x",
                    target,
                ]
            )
        rows.append(
            [
                f"POST /predict throughput at concurrency {c}",
                f"{api[c]['requests_per_s']:.0f} req/s",
                f"endpoint alone {endpoint[c]['requests_per_s']:.0f} req/s",
                f"{api[c]['requests_per_s'] / endpoint[c]['requests_per_s']:.2f}x",
                "",
            ]
        )
    rows.append(
        [
            "Lambda bundle (chalice package)",
            f"{bundle['zip_mb']:.2f} MB",
            "Lambda limit 50 MB zipped",
            f"{bundle['zip_mb'] / 50:.2f}x",
            "< 10 MB",
        ]
    )
    rows.append(
        [
            "Lambda cold import of app.py",
            f"{app_import * 1000:.0f} ms",
            f"import boto3 alone {baseline_import * 1000:.0f} ms",
            f"{app_import / baseline_import:.2f}x",
            "",
        ]
    )
    return {
        "api": {str(c): v for c, v in api.items()},
        "endpoint": {str(c): v for c, v in endpoint.items()},
        "app_import_s": app_import,
        "boto3_import_s": baseline_import,
        "bundle": bundle,
        "rows": rows,
    }


if __name__ == "__main__":
    save("api", run())

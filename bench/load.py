"""Load test: many predictions through both paths of the running service, and proof that none was lost.

``python -m bench.load`` (``make load``) starts its own local stack on free ports (MiniStack with a
temporary state folder, the endpoint with the shipped model, ``chalice local``, the S3 event bridge),
then, on loopback:

1. baseline: ``InvokeEndpoint`` straight to the endpoint (boto3), at the same concurrency;
2. API: ``--api`` (5,000) ``POST /predict`` at ``--concurrency`` (16) through ``chalice local``;
3. S3: ``--s3`` (1,000) uploads to the inbox bucket in one burst, processed by the bridge.

Every API answer must be 200 and every upload must end as a ``succeeded`` record; then the records are
counted with a Query on the table's ``by-source`` index (never a Scan): exactly one per API answer (by
``prediction_id``) and one per uploaded key (by ``source_key``). Throughput and latency p50/p95/p99 go
to ``bench/results/load.json``, with the API's figures as ratios of the endpoint's (the same run).
S3 latency is upload -> record visible, measured by polling the index every :data:`POLL_S` seconds.

The reduced run in ``tests/test_load.py`` calls :func:`api_load` and :func:`s3_load` against the test
session's stack; the fault tests reuse :func:`upload_inbox` and :func:`inbox_records`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import requests
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config

from chalicelib.config import StageConfig, load
from chalicelib.store import SOURCE_INDEX, utc_now

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
API_REQUESTS = 5_000
S3_UPLOADS = 1_000
CONCURRENCY = 16
BASELINE_REQUESTS = 1_000
POLL_S = 0.25
#: Generous bounds: a bounded run, never a hang (2 cores shared with other work).
REQUEST_TIMEOUT_S = 60
S3_DRAIN_TIMEOUT_S = 900

Sample = tuple[bytes, int]  # (PNG body, true digit)


# ------------------------------------------------------------------------------------------ images


def samples(mnist_dir: Path | None = None) -> list[Sample]:
    """Held-out MNIST digits (the training run's validation split), each as two uploads people send:
    the 28x28 MNIST-style PNG and a 280x280 dark-on-white PNG (a scan or canvas)."""
    from tests import images
    from tests.conftest import MNIST_DIR

    digits, labels = images.validation_digits(mnist_dir or MNIST_DIR, count=10)
    out: list[Sample] = []
    for digit, label in zip(digits, labels, strict=True):
        out.append((images.png(digit), int(label)))
        out.append((images.png(images.invert(images.resize(digit, 280))), int(label)))
    return out


# ------------------------------------------------------------------------------------------ figures


def summary(latencies_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds."""
    if not latencies_s:
        return {}
    ms = np.asarray(latencies_s) * 1000
    return {q: round(float(np.percentile(ms, p)), 1) for q, p in (("p50", 50), ("p95", 95), ("p99", 99))} | {
        "max": round(float(ms.max()), 1)
    }


@dataclass
class PathResult:
    """One path's run: counts, figures and what the records showed."""

    path: str
    requests: int
    concurrency: int
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list, repr=False)
    correct: int = 0
    #: Records found for this run's requests / keys, and those found more or less than once.
    records: int = 0
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def lost_nothing(self) -> bool:
        return not self.errors and not self.missing and not self.duplicated and self.records == self.requests

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("latencies_s", "errors", "missing", "duplicated")}
        return data | {
            "errors": len(self.errors),
            "error_examples": self.errors[:5],
            "missing": len(self.missing),
            "duplicated": len(self.duplicated),
            "seconds": round(self.seconds, 2),
            "throughput_per_s": round(self.throughput, 1),
            "latency_ms": summary(self.latencies_s),
            "digit_correct": round(self.correct / self.requests, 4) if self.requests else None,
        }


def _run_concurrently(count: int, concurrency: int, one: Any) -> float:
    """Call ``one(i)`` for i in range(count) on ``concurrency`` threads; the wall time in seconds."""
    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency, thread_name_prefix="load") as pool:
        for future in [pool.submit(one, i) for i in range(count)]:
            future.result()
    return time.perf_counter() - started


# ------------------------------------------------------------------------------------------ baseline


def endpoint_load(endpoint_name: str, bodies: list[Sample], count: int, concurrency: int) -> PathResult:
    """``InvokeEndpoint`` straight to the endpoint: what the model server alone sustains."""
    client = boto3.client("sagemaker-runtime", config=Config(retries={"total_max_attempts": 1},
                                                              max_pool_connections=concurrency))
    result = PathResult("endpoint", count, concurrency)
    lock = threading.Lock()

    def one(i: int) -> None:
        body, label = bodies[i % len(bodies)]
        started = time.perf_counter()
        try:
            answer = json.loads(
                client.invoke_endpoint(EndpointName=endpoint_name, Body=body, ContentType="image/png")["Body"].read()
            )
        except Exception as exc:
            with lock:
                result.errors.append(f"{type(exc).__name__}: {exc}")
            return
        with lock:
            result.latencies_s.append(time.perf_counter() - started)
            result.correct += answer["digit"] == label
            result.records += 1  # nothing is stored on this path: every answer counts

    result.seconds = _run_concurrently(count, concurrency, one)
    return result


# ------------------------------------------------------------------------------------------ API


def api_load(api_url: str, config: StageConfig, bodies: list[Sample], count: int, concurrency: int) -> PathResult:
    """``count`` x ``POST /predict``; then every answered id must be exactly one record of this run."""
    result = PathResult("api", count, concurrency)
    ids: list[str] = []
    lock = threading.Lock()
    local = threading.local()
    since = utc_now()

    def one(i: int) -> None:
        body, label = bodies[i % len(bodies)]
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        try:
            response = session.post(f"{api_url}/predict", data=body, headers={"Content-Type": "image/png"},
                                    timeout=REQUEST_TIMEOUT_S)
        except requests.RequestException as exc:
            with lock:
                result.errors.append(f"{type(exc).__name__}: {exc}")
            return
        elapsed = time.perf_counter() - started
        with lock:
            if response.status_code != 200:
                result.errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                return
            record = response.json()
            result.latencies_s.append(elapsed)
            result.correct += record["digit"] == label
            ids.append(record["prediction_id"])

    result.seconds = _run_concurrently(count, concurrency, one)
    stored = Counter(item["prediction_id"] for item in query_source(config, "api", since))
    result.records = sum(stored[i] for i in set(ids))
    result.missing = [i for i in ids if i not in stored]
    result.duplicated = [i for i, n in Counter(ids).items() if n > 1]  # the service gave one id twice
    result.errors += [f"record {i} not among the answers" for i in stored if i not in set(ids)]
    return result


# ------------------------------------------------------------------------------------------ S3


#: What the checks read of a record (a projection: the image and probabilities stay in the table).
RECORD_FIELDS = "prediction_id, source_key, #status, digit, error_code, error_message"


def query_source(config: StageConfig, source: str, since: str, prefix: str | None = None) -> Iterator[dict[str, Any]]:
    """Records of ``source`` created at or after ``since``: a Query on the ``by-source`` index, every page
    (never a Scan); with ``prefix``, only those whose ``source_key`` starts with it."""
    table = boto3.resource("dynamodb").Table(config.predictions_table)
    query: dict[str, Any] = {
        "IndexName": SOURCE_INDEX,
        "KeyConditionExpression": Key("source").eq(source) & Key("created_at").gte(since),
        "ProjectionExpression": RECORD_FIELDS,
        "ExpressionAttributeNames": {"#status": "status"},
    }
    if prefix:
        query["FilterExpression"] = Attr("source_key").begins_with(prefix)
    while True:
        page = table.query(**query)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def inbox_records(config: StageConfig, prefix: str, since: str) -> dict[str, list[dict[str, Any]]]:
    """Inbox records under ``prefix`` created since ``since``, by ``source_key`` (two records = a duplicate)."""
    by_key: dict[str, list[dict[str, Any]]] = {}
    for item in query_source(config, "s3", since, prefix):
        by_key.setdefault(item["source_key"], []).append(item)
    return by_key


def upload_inbox(
    config: StageConfig, uploads: Sequence[tuple[str, bytes]], concurrency: int, on_done: Any = None
) -> float:
    """Put ``(key, body)`` objects into the inbox bucket on ``concurrency`` threads; ``on_done(i)`` after
    each; the wall time in seconds."""
    s3 = boto3.client("s3", config=Config(max_pool_connections=concurrency))

    def one(i: int) -> None:
        key, body = uploads[i]
        s3.put_object(Bucket=config.inbox_bucket, Key=key, Body=body, ContentType="image/png")
        if on_done is not None:
            on_done(i)

    return _run_concurrently(len(uploads), concurrency, one)


def s3_load(
    config: StageConfig, bodies: list[Sample], count: int, concurrency: int, timeout: float = S3_DRAIN_TIMEOUT_S
) -> PathResult:
    """``count`` uploads in one burst; waits until each key has a finished record (or ``timeout``)."""
    result = PathResult("s3", count, concurrency)
    prefix = f"{config.inbox_prefix}load-{uuid.uuid4().hex[:8]}/"
    uploads = [(f"{prefix}{i:05d}-digit-{bodies[i % len(bodies)][1]}.png", bodies[i % len(bodies)][0])
               for i in range(count)]
    labels = {key: bodies[i % len(bodies)][1] for i, (key, _) in enumerate(uploads)}
    uploaded_at: dict[str, float] = {}
    since = utc_now()
    started = time.perf_counter()

    def done(i: int) -> None:
        uploaded_at[uploads[i][0]] = time.perf_counter()

    uploader = threading.Thread(target=upload_inbox, args=(config, uploads, concurrency, done))
    uploader.start()
    finished_at: dict[str, float] = {}
    records: dict[str, list[dict[str, Any]]] = {}
    deadline = started + timeout
    while time.perf_counter() < deadline:
        time.sleep(POLL_S)
        records = inbox_records(config, prefix, since)
        now = time.perf_counter()
        for key, items in records.items():
            if key not in finished_at and any(item["status"] != "failed" for item in items):
                finished_at[key] = now
        if len(finished_at) == count and not uploader.is_alive():
            break
    uploader.join()
    result.seconds = (max(finished_at.values()) if finished_at else time.perf_counter()) - started
    result.latencies_s = [finished_at[k] - uploaded_at[k] for k in finished_at if k in uploaded_at]
    records = inbox_records(config, prefix, since)  # the final count, after everything finished
    result.records = sum(len(items) for items in records.values())
    result.missing = [key for key in labels if key not in records]
    result.duplicated = [key for key, items in records.items() if len(items) > 1]
    for key, items in records.items():
        statuses = {item["status"] for item in items}
        if statuses != {"succeeded"}:
            result.errors.append(f"{key}: {sorted(statuses)} {items[0].get('error_code', '')}")
        elif int(items[0]["digit"]) == labels[key]:
            result.correct += 1
    return result


# ------------------------------------------------------------------------------------------ the run


@contextmanager
def local_stack(workdir: Path) -> Iterator[tuple[str, StageConfig]]:
    """A whole local stack on free ports (as ``make up`` runs it, without the UI); yields the API URL."""
    from ops.emulator import Emulator, free_port
    from ops.provision import provision
    from ops.stack import Ports, Stack
    from tests.stack_fixtures import ManagedProcess

    emulator = Emulator(port=free_port(), state_dir=workdir / "ministack", log_path=workdir / "ministack.log")
    stack = Stack(ports=Ports(aws=emulator.port, endpoint=free_port(), api=free_port(), ui=free_port()),
                  state_dir=workdir / "ministack", with_ui=False)
    env = stack.env()
    processes = [ManagedProcess(service, env, workdir / f"{service.name}.log") for service in stack.services()]
    emulator.start()
    try:
        os.environ.update({k: env[k] for k in (*emulator.client_env(), "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
                                                "DIGITS_STAGE")})
        config = load("local")
        provision(config)
        started = []
        try:
            for process in processes:
                process.start()
                started.append(process)
            yield f"http://127.0.0.1:{stack.ports.api}", config
        finally:
            for process in reversed(started):
                process.stop()
    finally:
        emulator.stop()


def run(api_requests: int = API_REQUESTS, s3_uploads: int = S3_UPLOADS, concurrency: int = CONCURRENCY) -> dict:
    bodies = samples()
    with tempfile.TemporaryDirectory(prefix="digits-load-") as tmp, local_stack(Path(tmp)) as (api_url, config):
        print(f"load: stack up ({api_url}); baseline, then {api_requests} API requests, {s3_uploads} uploads",
              flush=True)
        endpoint_load(config.endpoint_name, bodies, 64, concurrency)  # warm-up, not counted
        baseline = endpoint_load(config.endpoint_name, bodies, min(BASELINE_REQUESTS, api_requests), concurrency)
        api = api_load(api_url, config, bodies, api_requests, concurrency)
        print(f"load: API done in {api.seconds:.0f} s", flush=True)
        s3 = s3_load(config, bodies, s3_uploads, concurrency)
    base_p50 = summary(baseline.latencies_s).get("p50") or float("nan")
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}",
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "endpoint_baseline": baseline.as_dict(),
        "api": api.as_dict(),
        "s3": s3.as_dict(),
        "ratios": {
            "api_throughput_vs_endpoint": round(api.throughput / baseline.throughput, 3),
            "api_p50_vs_endpoint_p50": round(summary(api.latencies_s).get("p50", float("nan")) / base_p50, 2),
        },
        "lost_nothing": api.lost_nothing and s3.lost_nothing,
    }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", type=int, default=API_REQUESTS, help="POST /predict requests")
    parser.add_argument("--s3", type=int, default=S3_UPLOADS, help="inbox uploads")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args(argv)
    results = run(args.api, args.s3, args.concurrency)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0 if results["lost_nothing"] else 1


if __name__ == "__main__":
    sys.exit(main())

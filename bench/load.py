"""Load test: Locust drives both paths of the running service, then the records prove none was lost.

``python -m bench.load`` (``make load``) starts its own local stack on free ports (MiniStack with a
temporary state folder, the endpoint with the shipped model, ``chalice local``, the S3 event bridge),
then runs the users of ``bench/locustfile.py``, each class in a headless Locust process with
``--users`` (16) users, a bounded number of requests and a time limit, on loopback:

1. baseline: ``InvokeEndpoint`` straight to the endpoint (``EndpointUser``), after a warm-up run;
2. API: ``--api`` (5,000) ``POST /predict`` through ``chalice local`` (``ApiUser``);
3. S3: ``--s3`` (1,000) uploads to the inbox bucket as fast as the users go (``InboxUser``), processed by the
   bridge.

Every API answer must be 200 and every upload must end as a ``succeeded`` record; the records are
counted with a Query on the table's ``by-source`` index (never a Scan): exactly one per API answer (by
``prediction_id``) and one per uploaded key (by ``source_key``). Throughput and latency percentiles are
Locust's (for the S3 path, of the uploads themselves), except the S3 path's upload -> record latency,
measured here by polling the index every :data:`POLL_S` seconds while the uploads run. They go to
``bench/results/load.json``, with the API's figures as ratios of the endpoint's (the same run).

The reduced run in ``tests/test_load.py`` calls :func:`api_load` and :func:`s3_load` against the test
session's stack; the fault tests reuse :func:`samples`, :func:`upload_inbox` and :func:`inbox_records`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
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
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config

from chalicelib.config import StageConfig, load
from chalicelib.store import SOURCE_INDEX, utc_now

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
API_REQUESTS = 5_000
S3_UPLOADS = 1_000
USERS = 16
BASELINE_REQUESTS = 1_000
WARM_UP_REQUESTS = 64
POLL_S = 0.25
#: Generous bounds: a bounded run, never a hang (2 cores shared with other work).
RUN_TIME_S = 900
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


# ------------------------------------------------------------------------------------------ Locust


@dataclass
class PathResult:
    """One path's run: Locust's figures, and what the records showed."""

    path: str
    requests: int
    users: int
    seconds: float = 0.0
    throughput_per_s: float = 0.0
    #: Locust's response-time percentiles (ms); for the S3 path, upload done -> record seen (numpy's).
    latency_ms: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    correct: int = 0
    #: Records found for this run's requests / keys, and those found more or less than once.
    records: int = 0
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    #: S3 path: Locust's figures for the uploads themselves.
    upload: dict[str, Any] = field(default_factory=dict)

    @property
    def lost_nothing(self) -> bool:
        return not self.errors and not self.missing and not self.duplicated and self.records == self.requests

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("errors", "missing", "duplicated", "upload")}
        return (
            data
            | {
                "errors": len(self.errors),
                "error_examples": self.errors[:5],
                "missing": len(self.missing),
                "duplicated": len(self.duplicated),
                "digit_correct": round(self.correct / self.requests, 4) if self.requests else None,
            }
            | ({"upload": self.upload} if self.upload else {})
        )


def locust(user_class: str, requests: int, users: int, host: str = "", **options: str) -> dict[str, Any]:
    """Run one headless Locust process of ``user_class`` for ``requests`` task iterations; its results file.

    ``options`` become the locustfile's own arguments (``inbox_prefix="..."`` -> ``--inbox-prefix ...``).
    """
    with tempfile.TemporaryDirectory(prefix="digits-locust-") as tmp:
        results, log = Path(tmp) / "results.json", Path(tmp) / "locust.log"
        argv = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
            "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{RUN_TIME_S}s", "--stop-timeout", "30",
            "--requests", str(requests), "--results-file", str(results), "--logfile", str(log),
            *(["--host", host] if host else []),
            *(arg for name, value in options.items() for arg in (f"--{name.replace('_', '-')}", value)),
            user_class,
        ]  # fmt: skip
        completed = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIME_S + 120)
        if not results.exists():
            raise RuntimeError(
                f"locust {user_class} wrote no results (exit {completed.returncode}):\n"
                f"{completed.stderr[-3000:]}\n{log.read_text(errors='replace')[-3000:] if log.exists() else ''}"
            )
        return json.loads(results.read_text())


def _figures(result: PathResult, run: dict[str, Any]) -> PathResult:
    result.seconds, result.throughput_per_s = run["seconds"], run["throughput_per_s"]
    result.latency_ms = run["latency_ms"]
    result.errors += run["errors"]
    if run["requests"] != result.requests:
        result.errors.append(f"Locust made {run['requests']} requests of {result.requests}")
    return result


def endpoint_load(requests: int, users: int) -> PathResult:
    """``InvokeEndpoint`` straight to the endpoint: what the model server alone sustains."""
    run = locust("EndpointUser", requests, users)
    result = _figures(PathResult("endpoint", requests, users), run)
    result.correct = sum(label == digit for _, label, digit in run["outcomes"])
    result.records = len(run["outcomes"])  # nothing is stored on this path: every answer counts
    return result


def api_load(api_url: str, config: StageConfig, requests: int, users: int) -> PathResult:
    """``requests`` x ``POST /predict``; then every answered id must be exactly one record of this run."""
    since = utc_now()
    run = locust("ApiUser", requests, users, host=api_url)
    result = _figures(PathResult("api", requests, users), run)
    ids = [prediction_id for prediction_id, _, _ in run["outcomes"]]
    result.correct = sum(label == digit for _, label, digit in run["outcomes"])
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


def upload_inbox(config: StageConfig, uploads: Sequence[tuple[str, bytes]], concurrency: int) -> None:
    """Put ``(key, body)`` objects into the inbox bucket on ``concurrency`` threads (the fault tests' bursts)."""
    s3 = boto3.client("s3", config=Config(max_pool_connections=concurrency))
    with ThreadPoolExecutor(concurrency, thread_name_prefix="upload") as pool:
        list(
            pool.map(
                lambda u: s3.put_object(Bucket=config.inbox_bucket, Key=u[0], Body=u[1], ContentType="image/png"),
                uploads,
            )
        )


def s3_load(config: StageConfig, uploads: int, users: int, timeout: float = S3_DRAIN_TIMEOUT_S) -> PathResult:
    """``uploads`` PutObjects by Locust; meanwhile and after, polls until each key has a finished record."""
    result = PathResult("s3", uploads, users)
    prefix = f"{config.inbox_prefix}load-{uuid.uuid4().hex[:8]}/"
    since = utc_now()
    finished_at: dict[str, float] = {}  # key -> epoch seconds when its record was first seen finished
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            found = inbox_records(config, prefix, since)
            # Stamped when the query has answered, not when it was sent: a query sent before an upload
            # finished can see its record, and the stamp would then come before the upload's end.
            seen = time.time()
            for key, items in found.items():
                if key not in finished_at and any(item["status"] != "failed" for item in items):
                    finished_at[key] = seen
            time.sleep(POLL_S)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        run = locust("InboxUser", uploads, users, inbox_prefix=prefix)
        uploaded = {key: (label, start, end) for key, label, start, end in run["outcomes"]}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not set(uploaded) <= set(finished_at):
            time.sleep(POLL_S)
    finally:
        done.set()
        poller.join()
    _figures(result, run)
    result.upload = {k: run[k] for k in ("seconds", "throughput_per_s", "latency_ms")}
    if finished_at and uploaded:
        result.seconds = round(max(finished_at.values()) - min(start for _, start, _ in uploaded.values()), 2)
        result.throughput_per_s = round(uploads / result.seconds, 1)
        result.latency_ms = summary([finished_at[k] - end for k, (_, _, end) in uploaded.items() if k in finished_at])
    records = inbox_records(config, prefix, since)  # the final count, after everything finished
    result.records = sum(len(items) for items in records.values())
    result.missing = [key for key in uploaded if key not in records]
    result.duplicated = [key for key, items in records.items() if len(items) > 1]
    for key, items in records.items():
        statuses = {item["status"] for item in items}
        if statuses != {"succeeded"}:
            result.errors.append(f"{key}: {sorted(statuses)} {items[0].get('error_code', '')}")
        elif int(items[0]["digit"]) == uploaded.get(key, (None,))[0]:
            result.correct += 1
    return result


def summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds."""
    ms = np.asarray(seconds) * 1000
    return {q: round(float(np.percentile(ms, p)), 1) for q, p in (("p50", 50), ("p95", 95), ("p99", 99))} | {
        "max": round(float(ms.max()), 1)
    }


# ------------------------------------------------------------------------------------------ the run


@contextmanager
def local_stack(workdir: Path) -> Iterator[tuple[str, StageConfig]]:
    """A whole local stack on free ports (as ``make up`` runs it, without the UI); yields the API URL."""
    from ops.emulator import Emulator, free_port
    from ops.provision import provision
    from ops.stack import Ports, Stack
    from tests.stack_fixtures import ManagedProcess

    emulator = Emulator(port=free_port(), state_dir=workdir / "ministack", log_path=workdir / "ministack.log")
    stack = Stack(
        ports=Ports(aws=emulator.port, endpoint=free_port(), api=free_port(), ui=free_port()),
        state_dir=workdir / "ministack",
        with_ui=False,
    )
    env = stack.env()
    processes = [ManagedProcess(service, env, workdir / f"{service.name}.log") for service in stack.services()]
    emulator.start()
    try:
        os.environ.update(
            {k: env[k] for k in (*emulator.client_env(), "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "DIGITS_STAGE")}
        )
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


def run(api_requests: int = API_REQUESTS, s3_uploads: int = S3_UPLOADS, users: int = USERS) -> dict:
    with tempfile.TemporaryDirectory(prefix="digits-load-") as tmp, local_stack(Path(tmp)) as (api_url, config):
        print(
            f"load: stack up ({api_url}); baseline, then {api_requests} API requests, {s3_uploads} uploads, "
            f"{users} Locust users",
            flush=True,
        )
        endpoint_load(WARM_UP_REQUESTS, users)  # warm-up, not counted
        baseline = endpoint_load(min(BASELINE_REQUESTS, api_requests), users)
        api = api_load(api_url, config, api_requests, users)
        print(f"load: API done in {api.seconds:.0f} s", flush=True)
        s3 = s3_load(config, s3_uploads, users)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "tool": "Locust (bench/locustfile.py), one headless process per path",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared), Python {platform.python_version()}",
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "endpoint_baseline": baseline.as_dict(),
        "api": api.as_dict(),
        "s3": s3.as_dict(),
        "ratios": {
            "api_throughput_vs_endpoint": round(api.throughput_per_s / baseline.throughput_per_s, 3),
            "api_p50_vs_endpoint_p50": round(api.latency_ms["p50"] / baseline.latency_ms["p50"], 2),
        },
        "lost_nothing": api.lost_nothing and s3.lost_nothing,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", type=int, default=API_REQUESTS, help="POST /predict requests")
    parser.add_argument("--s3", type=int, default=S3_UPLOADS, help="inbox uploads")
    parser.add_argument("--users", type=int, default=USERS, help="Locust users (the concurrency)")
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json")
    args = parser.parse_args(argv)
    results = run(args.api, args.s3, args.users)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0 if results["lost_nothing"] else 1


if __name__ == "__main__":
    sys.exit(main())

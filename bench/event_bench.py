"""Event-path benchmark: an image uploaded to the S3 inbox -> its record visible in DynamoDB, through
the S3 notification, the SQS queue, the event bridge, the S3 handler and the endpoint, next to the
same prediction through ``POST /predict`` measured in the same run.

``python -m bench.event_bench`` -> ``bench/results/event.json``. Target: p95 under 1 s over 200 uploads.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import boto3

from bench import save
from bench.endpoint_bench import sample_images
from bench.stack import http_load, percentile, running_stack
from chalicelib.config import load
from chalicelib.store import PredictionStore, inbox_prediction_id

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
UPLOADS = 200
TIMEOUT_S = 30.0


def upload_to_record(s3, store: PredictionStore, bucket: str, body: bytes) -> float:
    """Seconds from the start of the upload until the record exists (polled every 2 ms)."""
    key = f"inbox/bench-{uuid.uuid4().hex}.png"
    started = time.perf_counter()
    etag = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="image/png")["ETag"].strip('"')
    prediction_id = inbox_prediction_id(bucket, key, etag)
    while time.perf_counter() - started < TIMEOUT_S:
        record = store.get(prediction_id)
        if record is not None:
            if record.get("status") != "succeeded":
                raise RuntimeError(f"{key}: {record.get('status')} {record.get('error_code')}")
            return time.perf_counter() - started
        time.sleep(0.002)
    raise RuntimeError(f"{key}: no record within {TIMEOUT_S:.0f} s")


def run() -> dict:
    bodies = sample_images()
    with running_stack() as stack:
        config = load("local")
        s3, store = boto3.client("s3", region_name=config.region), PredictionStore(config)
        for body in bodies[:5]:
            upload_to_record(s3, store, config.inbox_bucket, body)  # warm-up
        latencies = [upload_to_record(s3, store, config.inbox_bucket, bodies[i % len(bodies)]) for i in range(UPLOADS)]
        api = http_load(stack.ports.api, "/predict", bodies, 1, 100)
    p50, p95 = percentile(latencies, 50) * 1000, percentile(latencies, 95) * 1000
    return {
        "uploads": UPLOADS,
        "p50_ms": p50,
        "p95_ms": p95,
        "max_ms": max(latencies) * 1000,
        "api_p50_ms": api["p50_ms"],
        "rows": [
            [
                "S3 upload -> record p50",
                f"{p50:.0f} ms",
                f"POST /predict p50 {api['p50_ms']:.1f} ms",
                f"{p50 / api['p50_ms']:.2f}x",
                "",
            ],
            [
                f"S3 upload -> record p95 ({UPLOADS} uploads)",
                f"{p95:.0f} ms",
                f"POST /predict p50 {api['p50_ms']:.1f} ms",
                f"{p95 / api['p50_ms']:.2f}x",
                "< 1 s",
            ],
        ],
    }


if __name__ == "__main__":
    save("event", run())

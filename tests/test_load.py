"""Bounded load on loopback (the reduced ``make load``): Locust users (``bench/locustfile.py``) make 200 API
predictions and a burst of 100 inbox uploads, 8 at a time, against the test session's stack; zero errors,
every prediction recorded once. A short endpoint baseline run checks the third user class.

The figures are printed (``-s``), not asserted: speed belongs in ``bench/load.py`` (``make load``).
"""

from __future__ import annotations

import pytest

from bench import load

pytestmark = [pytest.mark.integration, pytest.mark.slow]

API_REQUESTS = 200
S3_UPLOADS = 100
USERS = 8


def check(result: load.PathResult) -> None:
    print(f"\n{result.path}: {result.as_dict()}")
    assert result.errors == []
    assert (result.missing, result.duplicated) == ([], [])
    assert result.records == result.requests
    # Held-out digits, two renderings each: real predictions, not just 200s (the model is ~99 % accurate).
    assert result.correct >= 0.9 * result.requests
    assert result.throughput_per_s > 0 and 0 < result.latency_ms["p50"] <= result.latency_ms["p99"]


def test_the_endpoint_baseline_answers_every_request(local_stack):
    check(load.endpoint_load(40, USERS))


def test_api_answers_every_request_and_records_each_once(local_stack):
    check(load.api_load(local_stack.api_url, local_stack.config, API_REQUESTS, USERS))


def test_an_inbox_burst_becomes_one_record_per_upload(local_stack):
    result = load.s3_load(local_stack.config, S3_UPLOADS, USERS, timeout=120)
    check(result)
    assert result.upload["throughput_per_s"] > 0


def test_the_servers_are_still_up(local_stack):
    for process in (local_stack.endpoint, local_stack.api, local_stack.bridge):
        assert process.running, f"{process.service.name} died:\n{process.log_tail()}"

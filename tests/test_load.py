"""Bounded load on loopback (the reduced ``make load``): 200 API predictions and a burst of 100 inbox
uploads at concurrency 8 against the test session's stack; zero errors, every prediction recorded once.

The figures are printed (``-s``), not asserted: speed belongs in ``bench/load.py`` (``make load``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import load

pytestmark = [pytest.mark.integration, pytest.mark.slow]

API_REQUESTS = 200
S3_UPLOADS = 100
CONCURRENCY = 8


@pytest.fixture(scope="module")
def samples(mnist_dir: Path) -> list[load.Sample]:
    return load.samples(mnist_dir)


def check(result: load.PathResult) -> None:
    print(f"\n{result.path}: {result.as_dict()}")
    assert result.errors == []
    assert (result.missing, result.duplicated) == ([], [])
    assert result.records == result.requests
    # Held-out digits, two renderings each: real predictions, not just 200s (the model is ~99 % accurate).
    assert result.correct >= 0.9 * result.requests


def test_api_answers_every_request_and_records_each_once(local_stack, samples):
    check(load.api_load(local_stack.api_url, local_stack.config, samples, API_REQUESTS, CONCURRENCY))


def test_an_inbox_burst_becomes_one_record_per_upload(local_stack, samples):
    check(load.s3_load(local_stack.config, samples, S3_UPLOADS, CONCURRENCY, timeout=120))


def test_the_servers_are_still_up(local_stack):
    for process in (local_stack.endpoint, local_stack.api, local_stack.bridge):
        assert process.running, f"{process.service.name} died:\n{process.log_tail()}"

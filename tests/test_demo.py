"""``make demo`` against a running stack: its samples go through both paths and are read right."""

from __future__ import annotations

import re

import pytest

from bench.load import query_source
from chalicelib.store import utc_now
from ops import demo
from tests.stack_fixtures import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_fills_both_sources(local_stack, monkeypatch, capsys):
    monkeypatch.setenv("API_PORT", str(local_stack.ports.api))
    since = utc_now()
    assert demo.main() == 0
    out = capsys.readouterr().out
    # API answers: "api   paper-9        -> 200 9": the name carries the digit that was drawn.
    api = re.findall(r"^api\s+\S+-(\d+)\s+-> (\d+) (\S+)$", out, re.MULTILINE)
    assert api and all(status == "200" and shown == label for label, status, shown in api), out
    uploads = re.findall(r"^s3\s+\S+-(\d+)\s+-> s3://\S+?/(inbox/\S+)$", out, re.MULTILINE)
    assert uploads, out
    expected = {key: label for label, key in uploads}

    def done() -> dict[str, str] | None:
        records = query_source(local_stack.config, "s3", since, "inbox/demo-")
        found = {r["source_key"]: f"{r['status']} {r.get('digit')}" for r in records}
        return found if set(expected) <= set(found) else None

    recorded = wait_for(done, timeout=60, interval=0.2, what="demo uploads recorded")
    assert recorded == {key: f"succeeded {label}" for key, label in expected.items()}

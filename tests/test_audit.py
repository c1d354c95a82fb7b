"""``make audit``: pip-audit over every installed package, when PyPI's vulnerability API answers.

pip-audit asks ``https://pypi.org/pypi/<name>/<version>/json`` for each package's advisories. Where that
API does not answer (offline machines; here the per-release JSON is an empty 404 and OSV does not
resolve), pip-audit would skip every package and still say "No known vulnerabilities found": so the
target runs it with ``--strict`` (a package it cannot check fails the audit), and this test first asks
the API about a release with published advisories. Only when they come back is the audit run;
otherwise the test is skipped with what the probe got. The only test that leaves the machine: one GET.
"""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request

import pytest

from ops.emulator import ROOT

pytestmark = pytest.mark.integration

#: A release with published advisories (CVE-2018-18074): the API must list them.
PROBE_URL = "https://pypi.org/pypi/requests/2.19.0/json"


def probe() -> str | None:
    """None when the vulnerability API answers with advisories; else what it answered instead."""
    try:
        with urllib.request.urlopen(PROBE_URL, timeout=5) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except OSError as exc:
        return f"GET {PROBE_URL} failed: {exc}"
    try:
        advisories = json.loads(body).get("vulnerabilities") or []
    except ValueError:
        advisories = []
    if not advisories:
        return f"GET {PROBE_URL} -> HTTP {status}, {len(body)} bytes, no advisories listed"
    return None


def test_no_known_vulnerabilities_in_the_installed_packages():
    reason = probe()
    if reason:
        pytest.skip(f"PyPI's vulnerability API does not answer from here, so pip-audit cannot run: {reason}")
    result = subprocess.run(["make", "-s", "audit"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

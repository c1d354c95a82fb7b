"""Schemathesis fuzzes ``chalice local`` from the document the API serves (``GET /openapi.json``).

Every operation gets the examples, coverage and fuzzing phases (at most :data:`MAX_EXAMPLES` generated
cases each, seeded, loopback only) and every response must pass all of Schemathesis' checks: no 5xx,
status code, content type, headers and body as documented (so an undocumented error code fails, the
error codes being enums per status), negative data refused with a 4xx, an undocumented method answered
405 with ``Allow``. Then every documented error code of every operation must have been seen here or be
reached by a directed request or fault in ``tests/test_openapi.py``: the fault codes need a dependency
down or a bug, and ``image_too_large`` / ``corrupt_image`` bodies a generator does not produce.

Content-level refusals (413, 415, 422) are expected for schema-valid data: no schema can say "a
decodable image that shows a digit", and random bytes rarely are one.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from app import app

from chalicelib import openapi
from chalicelib.contract import IMAGE_CONTENT_TYPES
from chalicelib.openapi import OPERATIONS
from tests.test_openapi import BAD_REQUESTS, FAULT_CODES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAX_EXAMPLES = 50

#: (METHOD path, status, error code) of every answer the fuzzer got.
SEEN: set[tuple[str, int, str | None]] = set()


SAMPLED_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/octet-stream"}
#: What schema-valid data may get: 2xx, an id that does not exist, or a refusal of the image's content.
CONTENT_REFUSALS = ["2xx", "404", "413", "415", "422"]
CONFIG = {
    "seed": 17,
    "request-timeout": 30,
    "generation": {"max-examples": MAX_EXAMPLES},
    "checks": {"positive_data_acceptance": {"expected-statuses": CONTENT_REFUSALS}},
    "operations": [
        {  # a cursor is opaque: one the service did not hand out is refused (invalid_cursor)
            "include-path": "/predictions",
            "include-method": "GET",
            "checks": {"positive_data_acceptance": {"expected-statuses": [*CONTENT_REFUSALS, "400"]}},
        }
    ],
}
# The document of the app's routes, as GET /openapi.json serves it (tests/test_openapi.py checks that).
# Built here rather than fetched: Schemathesis' fixture-based loader does not work under pytest 9.2.
# Image types Schemathesis has no sample files for are sent as the raw bytes it generates.
schemathesis.serializer.alias(sorted(set(IMAGE_CONTENT_TYPES) - SAMPLED_TYPES), "application/octet-stream")
schema = schemathesis.openapi.from_dict(openapi.document(app.routes), config=schemathesis.Config.from_dict(CONFIG))


@schema.parametrize()
def test_the_api_matches_its_document(case: schemathesis.Case, local_stack) -> None:
    response = case.call_and_validate(base_url=local_stack.api_url)
    code = None
    if response.status_code >= 400:
        try:
            code = json.loads(response.content)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = None
    SEEN.add((f"{case.method.upper()} {case.path}", response.status_code, code))


def test_every_documented_error_code_was_fuzzed_or_is_reached_by_a_directed_test() -> None:
    assert SEEN, "runs after the fuzz test above (same module)"
    fuzzed = {(operation, code) for operation, _, code in SEEN if code}
    not_fuzzed = sorted(
        (path, method, code)
        for (path, method), operation in OPERATIONS.items()
        for code in operation.errors
        if (f"{method} {path}", code) not in fuzzed
    )
    print(f"\nfuzzed: {sorted(fuzzed)}\nreached by tests/test_openapi.py only: {not_fuzzed}")
    assert [case for case in not_fuzzed if case not in BAD_REQUESTS and case[2] not in FAULT_CODES] == []
    # The document's example for POST /predict/json is a real digit: a prediction validated against its schema.
    successes = {operation for operation, status, _ in SEEN if 200 <= status < 300}
    expected = {"POST /predict/json", "GET /predictions", "GET /stats", "POST /uploads", "GET /health"}
    assert expected | {"GET /openapi.json"} <= successes

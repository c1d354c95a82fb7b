"""Schemathesis fuzzes ``chalice local`` from the document the API serves (``GET /openapi.json``).

Every operation gets the examples, coverage and fuzzing phases (at most :data:`MAX_EXAMPLES` generated
cases each, seeded, loopback only) and every response must pass all of Schemathesis' checks: no 5xx,
status code, content type, headers and body as documented (so an undocumented error code fails, the
error codes being enums per status), negative data refused with a 4xx. Then every documented error code
of every operation must have been seen here, or be reached by a named test (:data:`REACHED_ELSEWHERE`):
the fault codes need a dependency down or a bug, which a fuzzer cannot cause.

Content-level refusals (413, 415, 422) are expected for schema-valid data: no schema can say "a
decodable image that shows a digit", and random bytes rarely are one.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import schemathesis
from app import app

from chalicelib import openapi
from chalicelib.openapi import OPERATIONS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAX_EXAMPLES = 25
ROOT = Path(__file__).resolve().parent.parent

#: Documented codes no generated request can cause, and the test that causes each (file::function).
REACHED_ELSEWHERE = {
    "empty_body": "tests/test_openapi.py::test_every_error_code_is_reachable_and_documented",
    "corrupt_image": "tests/test_openapi.py::test_every_error_code_is_reachable_and_documented",
    "no_digit_found": "tests/test_openapi.py::test_every_error_code_is_reachable_and_documented",
    "image_too_large": "tests/test_openapi.py::test_every_error_code_is_reachable_and_documented",
    "model_error": "tests/test_openapi.py::test_every_error_code_is_reachable_and_documented",
    "endpoint_unavailable": "tests/test_openapi.py::test_every_error_code_is_reachable_and_documented",
    "endpoint_throttled": "tests/test_openapi.py::test_every_error_code_is_reachable_and_documented",
    "endpoint_not_found": "tests/test_openapi.py::test_every_error_code_is_reachable_and_documented",
    "storage_unavailable": "tests/test_openapi.py::test_every_error_code_is_reachable_and_documented",
    "internal_error": "tests/test_openapi.py::test_every_error_code_is_reachable_and_documented",
    "invalid_cursor": "tests/test_openapi.py::test_every_error_code_is_reachable_and_documented",
}

#: (METHOD path, status, error code) of every answer the fuzzer got.
SEEN: set[tuple[str, int, str | None]] = set()


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


def test_every_documented_error_code_was_seen_or_is_reached_by_a_named_test() -> None:
    assert SEEN, "run with the fuzz test above (same module)"
    seen_codes = {(operation, code) for operation, _, code in SEEN}
    missing = []
    for (path, method), operation in OPERATIONS.items():
        for code in operation.errors:
            if (f"{method} {path}", code) not in seen_codes and code not in REACHED_ELSEWHERE:
                missing.append(f"{method} {path}: {code}")
    assert missing == [], "documented but neither fuzzed nor reached by a named test"
    for where in set(REACHED_ELSEWHERE.values()):
        file, name = where.split("::")
        tree = ast.parse((ROOT / file).read_text())
        assert name in {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}, where

"""The OpenAPI document (``chalicelib/openapi.py``) stays true to the app.

* It is a valid OpenAPI 3.1 document (``openapi-spec-validator``), describes every route of
  ``app.routes`` and nothing else, documents every stored field, and is what ``GET /openapi.json``
  serves, without authentication.
* Every documented error code of every operation is reached here (through Chalice's in-process client,
  on the local stage): by the request itself (an empty body, a truncated PNG, a bad cursor, ...) or by a
  real fault where one is needed (an endpoint that does not exist or does not answer, storage that does
  not exist, a stubbed throttle or model crash, a bug), and each answer matches the document: its status,
  its body's schema (the code is an ``enum`` per status), ``X-Request-Id`` and, on 503, ``Retry-After``.
  ``tests/test_api_fuzz.py`` fuzzes the same document against ``chalice local``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from chalice.app import IAMAuthorizer
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

import chalicelib.endpoint_client
from chalicelib import store
from chalicelib.contract import MAX_IMAGE_BYTES, MAX_JSON_BYTES, STATUSES
from chalicelib.endpoint_client import EndpointClient
from chalicelib.openapi import ERRORS, NOT_ANSWERED, OPERATIONS, document
from chalicelib.store import RESULT_FIELDS
from ops.emulator import free_port
from tests import images


@pytest.fixture(scope="module")
def routes() -> dict:
    from app import app

    return app.routes


@pytest.mark.unit
def test_the_document_is_valid_openapi(routes):
    validate(document(routes))


@pytest.mark.unit
def test_every_route_is_described_and_nothing_else(routes):
    routed = {(path, method) for path, methods in routes.items() for method in methods}
    assert routed == set(OPERATIONS)
    paths = document(routes)["paths"]
    assert {(path, method.upper()) for path, methods in paths.items() for method in methods} == routed
    for (path, method), route in ((k, routes[k[0]][k[1]]) for k in routed):
        body = paths[path][method.lower()].get("requestBody", {}).get("content", {})
        assert sorted(body) == sorted(route.content_types if OPERATIONS[(path, method)].request else [])


@pytest.mark.unit
def test_every_documented_code_is_known_and_every_stored_field_documented(routes):
    assert {code for op in OPERATIONS.values() for code in op.errors} <= set(ERRORS)
    assert set(RESULT_FIELDS) <= set(document(routes)["components"]["schemas"]["Prediction"]["properties"])


@pytest.mark.unit
def test_every_code_of_the_contract_is_documented_or_never_answered_by_the_api():
    assert set(ERRORS) | set(NOT_ANSWERED) == set(STATUSES)
    assert not set(ERRORS) & set(NOT_ANSWERED)


@pytest.mark.unit
def test_authenticated_routes_declare_sigv4_and_its_403(routes):
    iam = {path: {m: replace_authorizer(r) for m, r in methods.items()} for path, methods in routes.items()}
    paths = document(iam)["paths"]
    assert paths["/predictions"]["get"]["security"] == [{"sigv4": []}]
    assert "403" in paths["/predictions"]["get"]["responses"]
    assert paths["/openapi.json"]["get"]["security"] == [] and "403" not in paths["/health"]["get"]["responses"]
    assert document(routes)["paths"]["/predictions"]["get"]["security"] == []


PUBLIC = ("/health", "/openapi.json")


def replace_authorizer(route: Any) -> Any:
    """A copy of a route entry as ``api_route`` registers it in an ``iam`` stage (the public routes stay so)."""
    copy = type(route).__new__(type(route))
    copy.__dict__.update(vars(route), authorizer=None if route.uri_pattern in PUBLIC else IAMAuthorizer())
    return copy


@pytest.mark.integration
def test_the_api_serves_the_document_publicly(chalice_client, routes):
    response = chalice_client.http.get("/openapi.json")
    assert response.status_code == 200
    assert json.loads(response.body) == json.loads(json.dumps(document(routes)))


# -- every documented error code, reached ---------------------------------------------------------------


#: method, path (``{id}``: an existing prediction), body (or the name of one made in ``bodies``), content type
Request = tuple[str, str, bytes, str]


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


#: A request of each operation that succeeds.
VALID: dict[tuple[str, str], Request] = {
    ("/predict", "POST"): ("POST", "/predict", b"digit", "image/png"),
    ("/predict/json", "POST"): ("POST", "/predict/json", b"digit-json", "application/json"),
    ("/predictions", "GET"): ("GET", "/predictions?limit=2", b"", ""),
    ("/predictions/{prediction_id}", "GET"): ("GET", "/predictions/{id}", b"", ""),
    ("/predictions/{prediction_id}/feedback", "POST"): (
        "POST",
        "/predictions/{id}/feedback",
        _json({"label": 7}),
        "application/json",
    ),
    ("/predictions/{prediction_id}/image", "GET"): ("GET", "/predictions/{id}/image", b"", ""),
    ("/stats", "GET"): ("GET", "/stats?days=3", b"", ""),
    ("/uploads", "POST"): (
        "POST",
        "/uploads",
        _json({"filename": "seven.png", "content_type": "image/png"}),
        "application/json",
    ),
    ("/uploads/{upload_id}", "GET"): ("GET", "/uploads/{upload}", b"", ""),
    ("/health", "GET"): ("GET", "/health", b"", ""),
    ("/openapi.json", "GET"): ("GET", "/openapi.json", b"", ""),
}

_TRUNCATED_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
_TEXT = b"just some text, not an image"
_UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

#: Codes the request itself causes, per operation.
BAD_REQUESTS: dict[tuple[str, str, str], Request] = {
    ("/predict", "POST", "empty_body"): ("POST", "/predict", b"", "image/png"),
    ("/predict", "POST", "image_too_large"): ("POST", "/predict", b"big", "image/png"),
    ("/predict", "POST", "unsupported_media_type"): ("POST", "/predict", _TEXT, "image/png"),
    ("/predict", "POST", "corrupt_image"): ("POST", "/predict", _TRUNCATED_PNG, "image/png"),
    ("/predict", "POST", "no_digit_found"): ("POST", "/predict", b"blank", "image/png"),
    ("/predict", "POST", "not_a_digit"): ("POST", "/predict", b"star", "image/png"),
    ("/predict", "POST", "several_lines"): ("POST", "/predict", b"two-lines", "image/png"),
    ("/predict", "POST", "low_confidence"): ("POST", "/predict", b"overwritten", "image/png"),
    ("/predict/json", "POST", "empty_body"): ("POST", "/predict/json", b"", "application/json"),
    ("/predict/json", "POST", "malformed_json"): ("POST", "/predict/json", b"[1, 2]", "application/json"),
    ("/predict/json", "POST", "invalid_request"): ("POST", "/predict/json", _json({"image": 5}), "application/json"),
    ("/predict/json", "POST", "invalid_base64"): ("POST", "/predict/json", _json({"image": "%%"}), "application/json"),
    ("/predict/json", "POST", "image_too_large"): (
        "POST",
        "/predict/json",
        _json({"image": "A" * (MAX_JSON_BYTES + 4)}),
        "application/json",
    ),
    ("/predict/json", "POST", "unsupported_media_type"): (
        "POST",
        "/predict/json",
        _json({"image": base64.b64encode(_TEXT).decode()}),
        "application/json",
    ),
    ("/predict/json", "POST", "corrupt_image"): (
        "POST",
        "/predict/json",
        _json({"image": base64.b64encode(_TRUNCATED_PNG).decode()}),
        "application/json",
    ),
    ("/predict/json", "POST", "no_digit_found"): ("POST", "/predict/json", b"blank-json", "application/json"),
    ("/predict/json", "POST", "not_a_digit"): ("POST", "/predict/json", b"star-json", "application/json"),
    ("/predict/json", "POST", "several_lines"): ("POST", "/predict/json", b"two-lines-json", "application/json"),
    ("/predict/json", "POST", "low_confidence"): ("POST", "/predict/json", b"overwritten-json", "application/json"),
    ("/predictions", "GET", "invalid_parameter"): ("GET", "/predictions?colour=red", b"", ""),
    ("/predictions", "GET", "invalid_cursor"): ("GET", "/predictions?cursor=abc", b"", ""),
    ("/predictions/{prediction_id}", "GET", "not_found"): ("GET", f"/predictions/{_UNKNOWN_ID}", b"", ""),
    ("/predictions/{prediction_id}/feedback", "POST", "empty_body"): (
        "POST",
        "/predictions/{id}/feedback",
        b"",
        "application/json",
    ),
    ("/predictions/{prediction_id}/feedback", "POST", "malformed_json"): (
        "POST",
        "/predictions/{id}/feedback",
        b"{label",
        "application/json",
    ),
    ("/predictions/{prediction_id}/feedback", "POST", "invalid_label"): (
        "POST",
        "/predictions/{id}/feedback",
        _json({"label": 10}),
        "application/json",
    ),
    ("/predictions/{prediction_id}/feedback", "POST", "not_found"): (
        "POST",
        f"/predictions/{_UNKNOWN_ID}/feedback",
        _json({"label": 1}),
        "application/json",
    ),
    ("/predictions/{prediction_id}/image", "GET", "not_found"): ("GET", f"/predictions/{_UNKNOWN_ID}/image", b"", ""),
    ("/stats", "GET", "invalid_parameter"): ("GET", "/stats?days=0", b"", ""),
    ("/uploads", "POST", "malformed_json"): ("POST", "/uploads", b"{filename", "application/json"),
    ("/uploads", "POST", "invalid_request"): ("POST", "/uploads", _json({"filename": 5}), "application/json"),
    ("/uploads", "POST", "unsupported_media_type"): (
        "POST",
        "/uploads",
        _json({"content_type": "text/html"}),
        "application/json",
    ),
    ("/uploads/{upload_id}", "GET", "not_found"): ("GET", "/uploads/0000000000000000-never.png", b"", ""),
    ("/predictions/{prediction_id}/feedback", "POST", "unsupported_media_type"): (
        "POST",
        "/predictions/{id}/feedback",
        b"label=1",
        "text/plain",
    ),
}


def _runtime(client: Any) -> Callable[[], Any]:
    return lambda: client


def _stubbed_runtime(code: str, status: int, **fields: Any) -> Any:
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error("invoke_endpoint", code, "stubbed", status, modeled_fields=fields or None)
    stubber.activate()
    return client


def _fault(app: Any, code: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next valid request fail with ``code``: a real fault where one can be had locally."""
    service = app.service
    if code == "endpoint_not_found":  # the local endpoint, asked for a name it does not serve
        monkeypatch.setattr(service, "endpoint", EndpointClient("no-such-endpoint"))
    elif code == "endpoint_unavailable":  # nothing listens there
        closed = boto3.client(
            "sagemaker-runtime",
            endpoint_url=f"http://127.0.0.1:{free_port()}",
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
        )
        monkeypatch.setattr(chalicelib.endpoint_client, "runtime_client", _runtime(closed))
    elif code == "endpoint_throttled":
        throttled = _stubbed_runtime("ThrottlingException", 400)
        monkeypatch.setattr(chalicelib.endpoint_client, "runtime_client", _runtime(throttled))
    elif code == "model_error":
        crashed = _stubbed_runtime("ModelError", 424, OriginalStatusCode=500, OriginalMessage="Traceback ...")
        monkeypatch.setattr(chalicelib.endpoint_client, "runtime_client", _runtime(crashed))
    elif code == "storage_unavailable":  # the credentials are gone: no S3 or DynamoDB call can be signed
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        signer = Config(signature_version="s3v4")
        monkeypatch.setattr(store, "_s3", lambda: boto3.session.Session().client("s3"))
        monkeypatch.setattr(store, "_presigner", lambda: boto3.session.Session().client("s3", config=signer))
        monkeypatch.setattr(store, "_dynamodb", lambda: boto3.session.Session().resource("dynamodb"))
    elif code == "internal_error":  # a bug: whatever the route calls raises something unexpected

        def broken(*_: object, **__: object) -> Any:
            raise RuntimeError("secret internal detail")

        class Broken:
            def __getattr__(self, name: str) -> Any:
                return broken

        monkeypatch.setattr(service, "store", Broken())
        monkeypatch.setattr(service, "endpoint", Broken())
        monkeypatch.setattr(app, "_openapi_document", broken)
    else:
        raise KeyError(code)


def _cases() -> list[tuple[str, str, str]]:
    return sorted((path, method, code) for (path, method), op in OPERATIONS.items() for code in op.errors)


@pytest.mark.unit
def test_every_documented_code_has_a_way_to_reach_it():
    for path, method, code in _cases():
        assert (path, method, code) in BAD_REQUESTS or ((path, method) in VALID and code in FAULT_CODES), code


FAULT_CODES = {
    "endpoint_not_found",
    "endpoint_unavailable",
    "endpoint_throttled",
    "model_error",
    "storage_unavailable",
    "internal_error",
}


@pytest.fixture(scope="module")
def bodies(mnist_dir) -> dict[bytes, bytes]:
    pictures, labels = images.validation_digits(mnist_dir, count=10)
    seven = images.png(pictures[list(labels).index(7)])
    blank = images.png(images.blank())
    two_lines = images.png(images.lines_of("12", "34"))
    overwritten = images.png(images.overwritten(0, 2))
    return {
        b"digit": seven,
        b"digit-json": _json({"image": base64.b64encode(seven).decode()}),
        b"blank": blank,
        b"blank-json": _json({"image": base64.b64encode(blank).decode()}),
        b"star": images.png(images.star()),
        b"star-json": _json({"image": base64.b64encode(images.png(images.star())).decode()}),
        b"two-lines": two_lines,
        b"two-lines-json": _json({"image": base64.b64encode(two_lines).decode()}),
        b"overwritten": overwritten,
        b"overwritten-json": _json({"image": base64.b64encode(overwritten).decode()}),
        b"big": images.png(images.blank((28, 28), 0)) + b"\x00" * MAX_IMAGE_BYTES,
    }


@pytest.fixture(scope="module")
def existing(chalice_app, bodies) -> dict[str, str]:
    """What the paths' ``{id}`` and ``{upload}`` stand for: a stored prediction, and an upload made through
    ``POST /uploads`` (its object put in the inbox; no bridge runs here, so it has no prediction yet)."""
    from chalice.test import Client

    from ops.stack import ROOT

    with Client(chalice_app.app, stage_name="local", project_dir=str(ROOT / "chalice_app")) as client:
        predicted = client.http.post("/predict", body=bodies[b"digit"], headers={"Content-Type": "image/png"})
        assert predicted.status_code == 200, predicted.body
        upload = client.http.post("/uploads", body=b"", headers={"Content-Type": "application/json"})
        assert upload.status_code == 201, upload.body
    upload_id, key = json.loads(upload.body)["upload_id"], json.loads(upload.body)["key"]
    boto3.client("s3").put_object(Bucket=chalice_app.CONFIG.inbox_bucket, Key=key, Body=bodies[b"digit"])
    return {"{id}": json.loads(predicted.body)["prediction_id"], "{upload}": upload_id}


def _send(client: Any, request: Request, bodies: dict[bytes, bytes], existing: dict[str, str]) -> Any:
    verb, url, body, content_type = request
    for placeholder, value in existing.items():
        url = url.replace(placeholder, value)
    headers = {"Content-Type": content_type} if content_type else {}
    return getattr(client.http, verb.lower())(url, body=bodies.get(body, body), headers=headers)


def _validator(doc: dict[str, Any], path: str, method: str, status: int) -> Draft202012Validator:
    """Validates an answer's body against the document's schema for that operation and status."""
    pointer = quote(
        f"/paths/{path.replace('/', '~1')}/{method.lower()}/responses/{status}/content/application~1json/schema"
    )
    registry = Registry().with_resource("urn:api", DRAFT202012.create_resource(doc))
    return Draft202012Validator({"$ref": f"urn:api#{pointer}"}, registry=registry)


@pytest.mark.integration
@pytest.mark.parametrize(("path", "method", "code"), _cases())
def test_every_error_code_is_reachable_and_documented(
    chalice_client, chalice_app, bodies, existing, monkeypatch, path, method, code
):
    doc = document(chalice_app.app.routes)
    if (path, method, code) in BAD_REQUESTS:
        response = _send(chalice_client, BAD_REQUESTS[(path, method, code)], bodies, existing)
    else:
        _fault(chalice_app, code, monkeypatch)
        response = _send(chalice_client, VALID[(path, method)], bodies, existing)
    answer = json.loads(response.body)
    assert (response.status_code, answer.get("error", {}).get("code")) == (ERRORS[code].status, code), answer
    _validator(doc, path, method, response.status_code).validate(answer)
    assert response.headers["X-Request-Id"]
    if response.status_code == 503:
        assert int(response.headers["Retry-After"]) > 0
    assert "secret" not in response.body.decode() and "Traceback" not in response.body.decode()


@pytest.mark.integration
@pytest.mark.parametrize(("path", "method"), sorted(VALID))
def test_a_valid_request_of_every_operation_matches_the_document(
    chalice_client, chalice_app, bodies, existing, path, method
):
    response = _send(chalice_client, VALID[(path, method)], bodies, existing)
    status = OPERATIONS[(path, method)].status
    assert response.status_code == status, response.body
    _validator(document(chalice_app.app.routes), path, method, status).validate(json.loads(response.body))

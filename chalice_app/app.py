"""The Chalice app: the HTTPS routes and the inbox bucket's S3 trigger. Thin handlers only.

The logic lives in ``chalicelib``: :mod:`~chalicelib.service` (the two prediction flows),
:mod:`~chalicelib.store` (DynamoDB + S3), :mod:`~chalicelib.endpoint_client` (SageMaker),
:mod:`~chalicelib.media` (what an image is). The stage (``DIGITS_STAGE``) and the resource names come
from the Chalice stage's environment variables, which the Chalice CLI applies *before* it imports
this module for ``chalice deploy/package/local --stage <stage>``: that is how the S3 trigger's bucket
below is the stage's inbox bucket.

Every error body is ``{"error": {"code", "message"}}``; unexpected exceptions are logged with the
request id and answered with ``500 internal_error`` and that id, never a stack trace.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable
from typing import Any

from chalice import Chalice, IAMAuthorizer, Response
from chalice.app import S3Event

from chalicelib.config import load
from chalicelib.contract import InputError, parse_json
from chalicelib.errors import BadRequest, NotFound, ServiceError
from chalicelib.media import IMAGE_CONTENT_TYPES, decode_base64_image, empty_image
from chalicelib.observability import logger
from chalicelib.openapi import document
from chalicelib.service import PredictionService

CONFIG = load()
service = PredictionService(CONFIG)

app = Chalice(app_name="digits")
app.api.binary_types.extend(t for t in IMAGE_CONTENT_TYPES if t not in app.api.binary_types)

#: Per-stage authentication (``api_auth`` in ``stages.json``, ``DIGITS_API_AUTH`` in ``.chalice/config.json``):
#: ``iam`` makes every route except ``/health`` and ``/openapi.json`` require a SigV4-signed request (API Gateway's
#: AWS_IAM authorizer).
AUTHORIZER = IAMAuthorizer() if CONFIG.api_auth == "iam" else None
LIST_PARAMETERS = {"limit", "cursor", "source", "digit", "status", "corrected", "source_key"}
STATS_PARAMETERS = {"days"}


def _request_id() -> str:
    return app.current_request.context.get("requestId", "") if app.current_request else ""


def error_response(exc: ServiceError) -> Response:
    return Response(body=exc.body(), status_code=exc.status, headers=exc.headers())


def api_route(path: str, *, public: bool = False, **options: Any) -> Callable:
    """``app.route`` with our error contract, and the stage's authorizer unless ``public``."""

    def register(view: Callable) -> Callable:
        @functools.wraps(view)
        def handle(*args: Any, **kwargs: Any) -> Any:
            try:
                return view(*args, **kwargs)
            except ServiceError as exc:
                logger.info("request refused", extra={"status": exc.status, "code": exc.code})
                return error_response(exc)
            except Exception:
                logger.exception("unhandled error")
                return error_response(ServiceError(f"internal error (request id {_request_id()})"))

        if AUTHORIZER is not None and not public:
            options["authorizer"] = AUTHORIZER
        return app.route(path, **options)(handle)

    return register


@app.middleware("http")
def request_context(event: Any, get_response: Callable) -> Response:
    """Correlation id for the logs, ``X-Request-Id`` on every answer, and Chalice's own errors
    (wrong content type, wrong method) reshaped to our error body."""
    request_id = event.context.setdefault("requestId", str(uuid.uuid4()))
    logger.thread_safe_append_keys(correlation_id=request_id)
    try:
        response = get_response(event)
    finally:
        logger.thread_safe_remove_keys(["correlation_id"])
    if response.status_code == 415 and not event.raw_body and "content-type" not in event.headers:
        # A bare `curl -X POST .../predict`: Chalice takes the missing Content-Type for application/json
        # and refuses the type, while what is missing is the image.
        response = error_response(empty_image())
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and {"Code", "Message"} <= set(body):
        code = re.sub(r"(?<!^)(?=[A-Z])", "_", body["Code"]).lower().removesuffix("_error")
        if response.status_code >= 500:  # Chalice's generic answer to an exception outside our views
            code, body["Message"] = "internal_error", f"internal error (request id {request_id})"
        elif code == "unsupported_media_type":  # a Content-Type the route does not list: say which it lists
            body["Message"] += _media_hint(event.path)
        response.body = {"error": {"code": code, "message": body["Message"]}}
    response.headers["X-Request-Id"] = request_id
    return response


def _media_hint(path: str) -> str:
    """What the route at ``path`` takes, for Chalice's refusal of another Content-Type."""
    if path == "/predict":
        return (
            f"; POST /predict takes the image itself ({', '.join(IMAGE_CONTENT_TYPES)}; curl: --data-binary "
            "@digit.png -H 'Content-Type: image/png'), POST /predict/json a JSON object with the image in base64"
        )
    if path == "/predict/json":
        return (
            "; POST /predict/json takes application/json, a JSON object with the image in base64 "
            '({"image": "<base64>"}); to send the image file itself, POST it to /predict'
        )
    return f"; {path} takes application/json"


def _json_body(*, optional: bool = False) -> dict[str, Any]:
    raw = app.current_request.raw_body
    if not raw and optional:
        return {}
    if not raw:
        raise BadRequest("the request body is empty: send a JSON object", code="empty_body")
    try:
        body = parse_json(raw)
    except InputError as exc:
        raise BadRequest(exc.message, code=exc.code) from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object", code="malformed_json")
    return body


@api_route("/predict", methods=["POST"], content_types=list(IMAGE_CONTENT_TYPES))
def predict() -> dict[str, Any]:
    """The raw image as the body (``curl --data-binary @digit.png -H 'Content-Type: image/png'``)."""
    return service.predict_upload(app.current_request.raw_body)


@api_route("/predict/json", methods=["POST"], content_types=["application/json"])
def predict_json() -> dict[str, Any]:
    """``{"image": "<base64 or data: URL>"}``, for browsers and other JSON-only clients."""
    return service.predict_upload(decode_base64_image(_json_body().get("image")), "json")


@api_route("/predictions", methods=["GET"])
def list_predictions() -> dict[str, Any]:
    """Newest first: ``?limit=20&cursor=...&source=api|s3&digit=0-9&status=succeeded|rejected|failed``
    ``&corrected=true|false`` (a user's label other than the predicted digit) ``&source_key=inbox/...``
    (the records of one inbox key)."""
    params = _query_params(LIST_PARAMETERS)
    page = service.store.list(
        limit=_int_parameter(params, "limit", default=20),
        cursor=params.get("cursor") or None,
        source=params.get("source") or None,
        digit=_int_parameter(params, "digit"),
        status=params.get("status") or None,
        corrected=_bool_parameter(params, "corrected"),
        source_key=params.get("source_key"),
    )
    return {"items": page.items, "next_cursor": page.cursor}


def _query_params(known: set[str]) -> dict[str, str]:
    params = app.current_request.query_params or {}
    unknown = set(params) - known
    if unknown:
        raise BadRequest(
            f"unknown parameter(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}",
            code="invalid_parameter",
        )
    empty = sorted(name for name, value in params.items() if not value)
    if empty:
        raise BadRequest(f"empty parameter(s) {', '.join(empty)}: leave them out instead", code="invalid_parameter")
    return params


def _int_parameter(params: dict[str, str], name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None:
        return default
    if not re.fullmatch(r"\d{1,4}", value):
        raise BadRequest(f"{name} must be a whole number", code="invalid_parameter")
    return int(value)


def _bool_parameter(params: dict[str, str], name: str) -> bool | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if value not in ("true", "false"):
        raise BadRequest(f"{name} must be true or false", code="invalid_parameter")
    return value == "true"


@api_route("/predictions/{prediction_id}", methods=["GET"])
def get_prediction(prediction_id: str) -> dict[str, Any]:
    record = service.store.get(prediction_id)
    if record is None:
        raise NotFound(f"no prediction {prediction_id!r}")
    return record


@api_route("/predictions/{prediction_id}/image", methods=["GET"])
def get_prediction_image(prediction_id: str) -> dict[str, Any]:
    """``{"prediction_id", "url", "expires_in"}``: a presigned S3 URL of the stored image (GET it, no signing)."""
    return service.image_url(prediction_id)


@api_route("/stats", methods=["GET"])
def stats() -> dict[str, Any]:
    """``?days=1-31`` (default 7): ``{"days": [{"date", "api", "s3", "total"}, ...]}``, oldest first, UTC."""
    days = _int_parameter(_query_params(STATS_PARAMETERS), "days", default=7)
    return {"days": service.store.daily_counts(days)}


@api_route("/uploads", methods=["POST"], content_types=["application/json"])
def new_upload() -> Response:
    """``{"filename"?, "content_type"?}`` -> 201 with a presigned form that puts one image into the inbox."""
    body = _json_body(optional=True)
    filename, content_type = body.get("filename"), body.get("content_type")
    if not isinstance(filename, str | None) or not isinstance(content_type, str | None):
        raise BadRequest('"filename" and "content_type" must be strings', code="invalid_request")
    return Response(body=service.new_upload(filename, content_type), status_code=201)


@api_route("/uploads/{upload_id}", methods=["GET"])
def get_upload(upload_id: str) -> dict[str, Any]:
    """``{"upload_id", "key", "prediction_id", "prediction"}``; ``prediction`` is null until it is recorded."""
    return service.upload_status(upload_id)


@api_route("/predictions/{prediction_id}/feedback", methods=["POST"], content_types=["application/json"])
def add_feedback(prediction_id: str) -> dict[str, Any]:
    """``{"label": 0-9}``: the digit the user says the image shows."""
    label = _json_body().get("label")
    if isinstance(label, float) and label.is_integer():  # JSON has one number type: 7.0 is 7
        label = int(label)
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
        raise BadRequest('"label" must be a whole number from 0 to 9', code="invalid_label")
    return service.store.add_feedback(prediction_id, label)


@api_route("/health", methods=["GET"], public=True)
def health() -> Response:
    """200 when the endpoint answers a real (tiny) inference, the table a real read and both buckets a
    HeadBucket; else 503."""
    checks: dict[str, dict[str, Any]] = {}
    model_version = model_source = promoted_at = None
    try:
        probe = service.endpoint.probe()
        model_version, model_source = probe.result.get("model_version"), probe.model_source
        promoted_at = probe.promoted_at
        checks["endpoint"] = {"ok": True, "latency_ms": probe.latency_ms}
    except ServiceError as exc:
        checks["endpoint"] = {"ok": False, "code": exc.code, "message": exc.message}
    storage = {
        "table": service.store.ping,
        "inbox_bucket": lambda: service.store.ping_bucket(CONFIG.inbox_bucket),
        "results_bucket": lambda: service.store.ping_bucket(CONFIG.results_bucket),
    }
    for name, ping in storage.items():
        try:
            ping()
            checks[name] = {"ok": True}
        except ServiceError as exc:
            checks[name] = {"ok": False, "code": exc.code, "message": exc.message}
    healthy = all(check["ok"] for check in checks.values())
    body = {
        "status": "ok" if healthy else "unavailable",
        "stage": CONFIG.stage,
        "endpoint_name": CONFIG.endpoint_name,
        "model_version": model_version,
        "model_source": model_source,
        "model_promoted_at": promoted_at,
        "checks": checks,
    }
    return Response(body=body, status_code=200 if healthy else 503, headers={} if healthy else {"Retry-After": "5"})


@api_route("/openapi.json", methods=["GET"], public=True)
def openapi() -> dict[str, Any]:
    """This API's OpenAPI 3.1 document, built from the route table (``chalicelib/openapi.py``)."""
    return _openapi_document()


@functools.cache
def _openapi_document() -> dict[str, Any]:
    return document(app.routes)


@app.on_s3_event(bucket=CONFIG.inbox_bucket, events=["s3:ObjectCreated:*"], prefix=CONFIG.inbox_prefix)
def handle_inbox_upload(event: S3Event) -> list[dict[str, Any]]:
    """Predict every image dropped under ``inbox/``; raises (so Lambda retries) when a dependency failed."""
    return service.process_inbox_event(event.to_dict(), event.context)

"""The OpenAPI 3.1 description of the HTTP API, built from the app's own routes (``GET /openapi.json``).

:func:`document` walks ``app.routes`` (Chalice's ``{path: {method: RouteEntry}}``): every route must have
an entry in :data:`OPERATIONS` (a route without one raises :class:`KeyError`, so a new route cannot ship
undescribed), and the request media types and the security requirement come from the route entry
itself (its ``content_types`` and ``authorizer``). The error responses are generated from
:data:`ERRORS`, whose statuses are the contract's (:data:`chalicelib.contract.STATUSES`, the table every
part raises its errors with): each documented status lists, as a JSON Schema ``enum``, exactly the error
codes that operation can answer with, so a fuzzer that validates responses against this document also
catches an undocumented code.

Limits (page size, sources, statuses, the image cap, the stored fields) are read from the modules that
enforce them. ``docs/api.md`` says how the document is tested.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalice.app import RouteEntry

from chalicelib.contract import IMAGE_CONTENT_TYPES, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MAX_JSON_BYTES, STATUSES
from chalicelib.endpoint_client import PROBE_PNG
from chalicelib.store import (
    DEFAULT_PAGE_SIZE,
    MAX_KEY_BYTES,
    MAX_PAGE_SIZE,
    MAX_STATS_DAYS,
    PRESIGNED_TTL_S,
    RESULT_FIELDS,
    SOURCES,
)
from chalicelib.store import STATUSES as RECORD_STATUSES

API_VERSION = "1.0.0"
_TIMESTAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$"
#: Strict base64 (at least one byte), optionally as a ``data:`` URL: what a client should send. The
#: service also takes whitespace inside it and media type parameters in the URL (``contract.decode_image_field``).
_BASE64 = (
    r"^(data:([\w.+*-]+/[\w.+*-]+)?;base64,)?"
    r"([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)$"
)


@dataclass(frozen=True)
class ErrorCode:
    """One ``error.code`` of ``{"error": {"code", "message"}}``, its HTTP status and when it is answered."""

    code: str
    status: int
    when: str


#: The contract's codes the HTTP API never answers: the endpoint's ``invalid_pixels`` and
#: ``unsupported_accept`` (the service sends images and asks for JSON), an inbox record's ``object_not_found``.
NOT_ANSWERED = ("invalid_pixels", "unsupported_accept", "object_not_found")
#: When the HTTP API answers each code; the statuses are the contract's (``chalicelib.contract.STATUSES``).
_WHEN = {
    "empty_body": "nothing was sent (an empty body or an empty image)",
    "malformed_json": "the body is not JSON, or not a JSON object",
    "invalid_request": 'no "image" string in the JSON object',
    "invalid_base64": '"image" is not base64',
    "invalid_parameter": "a bad, empty or unknown query parameter",
    "invalid_cursor": "a cursor from another listing, or not a cursor",
    "invalid_label": '"label" is not a whole number from 0 to 9',
    "not_found": "no such prediction",
    "method_not_allowed": "a method the path does not have (with an Allow header)",
    "image_too_large": f"over {MAX_IMAGE_BYTES:,} bytes, over {MAX_IMAGE_PIXELS:,} pixels, or a decompression bomb",
    "unsupported_media_type": (
        "not an image by its bytes (text, HTML, PDF, SVG, ZIP, ...), or a Content-Type the route does not take"
    ),
    "corrupt_image": "an image signature, but damaged or truncated data",
    "no_digit_found": "blank, uniform, noise only, a dot or a dash; or too many marks",
    "not_a_digit": (
        "a mark is a letter, symbol, shape or scribble, not a digit, or punctuation in a number (a decimal point,"
        " a minus sign); one such mark refuses the image"
    ),
    "several_lines": "digits written on more than one line (one number per picture, on one line)",
    "low_confidence": (
        "a digit is read with a probability under the confidence floor (the network hesitates between digits;"
        " the message names both readings)"
    ),
    "model_error": "the model crashed on this input",
    "endpoint_unavailable": "the model endpoint is down or not answering: retry after Retry-After",
    "endpoint_throttled": "the model endpoint is throttling: retry after Retry-After",
    "endpoint_not_found": "the model endpoint does not exist (or is being replaced): retry after Retry-After",
    "storage_unavailable": "DynamoDB or S3 refused or did not answer: retry after Retry-After",
    "internal_error": "a bug; the message carries the request id that the logs carry as correlation_id",
}
#: Every code the routes answer with.
ERRORS: dict[str, ErrorCode] = {code: ErrorCode(code, STATUSES[code], when) for code, when in _WHEN.items()}

_DEPENDENCIES = ("endpoint_unavailable", "endpoint_throttled", "endpoint_not_found", "storage_unavailable")
_IMAGE = (
    "empty_body",
    "image_too_large",
    "unsupported_media_type",
    "corrupt_image",
    "no_digit_found",
    "not_a_digit",
    "several_lines",
    "low_confidence",
    "model_error",
)


@dataclass(frozen=True)
class Operation:
    """What the route table cannot say about one operation."""

    summary: str
    errors: tuple[str, ...]
    response: dict[str, Any]
    description: str = ""
    request: dict[str, Any] | None = None
    #: False: the body may be left out (``POST /uploads``).
    body_required: bool = True
    parameters: tuple[dict[str, Any], ...] = ()
    status: int = 200


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    """An optional query parameter (an empty value, ``?name=``, is refused: leave it out)."""
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_PREDICTION_ID = {
    "name": "prediction_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "A prediction's id (a UUID); anything else is simply not found.",
}

#: Keyed by (path, method) exactly as in ``app.routes``.
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("/predict", "POST"): Operation(
        summary="Predict the digit(s) in an image sent as the raw body, and store the prediction",
        description=(
            "The declared Content-Type is a hint: the format is read from the bytes (a JPEG declared "
            "image/png is fine). A request that fails stores nothing."
        ),
        request={"schema": {"type": "string", "format": "binary", "minLength": 1, "maxLength": MAX_IMAGE_BYTES}},
        errors=(*_IMAGE, *_DEPENDENCIES, "internal_error"),
        response=_ref("Prediction"),
    ),
    ("/predict/json", "POST"): Operation(
        summary="Predict the digit(s) in a base64 image (or data: URL) in a JSON object, and store it",
        request={
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {
                    "image": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_JSON_BYTES,
                        "pattern": _BASE64,
                        "contentEncoding": "base64",
                        "description": "The image file, base64-encoded; a data:image/...;base64, URL works too.",
                    }
                },
            },
            # The health check's 28x28 "1": a real digit, so a tool that sends the example gets a prediction.
            "example": {"image": base64.b64encode(PROBE_PNG).decode()},
        },
        errors=("malformed_json", "invalid_request", "invalid_base64", *_IMAGE, *_DEPENDENCIES, "internal_error"),
        response=_ref("Prediction"),
    ),
    ("/predictions", "GET"): Operation(
        summary="List predictions, newest first, one page at a time",
        description=(
            "Unknown or empty query parameters are refused (invalid_parameter). Listing never scans the table."
        ),
        parameters=(
            _query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
                "Page size.",
            ),
            _query("cursor", {"type": "string"}, "next_cursor of the previous page of the same listing."),
            _query("source", {"type": "string", "enum": list(SOURCES)}, "Only predictions from this path."),
            _query("digit", {"type": "integer", "minimum": 0, "maximum": 9}, "Only predictions of this digit."),
            _query("status", {"type": "string", "enum": list(RECORD_STATUSES)}, "Only predictions with this status."),
            _query(
                "corrected",
                {"type": "string", "enum": ["true", "false"]},
                "true: only predictions a user corrected (feedback_label other than digit); false: the others.",
            ),
            _query(
                "source_key",
                {"type": "string", "minLength": 1, "maxLength": MAX_KEY_BYTES},
                "Only the records of this inbox key (source s3; one per version uploaded), e.g. inbox/digit.png.",
            ),
        ),
        errors=("invalid_parameter", "invalid_cursor", "storage_unavailable", "internal_error"),
        response=_ref("PredictionPage"),
    ),
    ("/predictions/{prediction_id}", "GET"): Operation(
        summary="One prediction",
        parameters=(_PREDICTION_ID,),
        errors=("not_found", "storage_unavailable", "internal_error"),
        response=_ref("Prediction"),
    ),
    ("/predictions/{prediction_id}/feedback", "POST"): Operation(
        summary="Record the digit the user says the image shows; returns the updated prediction",
        parameters=(_PREDICTION_ID,),
        request={
            "schema": {
                "type": "object",
                "required": ["label"],
                "properties": {"label": {"type": "integer", "minimum": 0, "maximum": 9}},
            }
        },
        errors=("empty_body", "malformed_json", "invalid_label", "not_found", "storage_unavailable", "internal_error"),
        response=_ref("Prediction"),
    ),
    ("/predictions/{prediction_id}/image", "GET"): Operation(
        summary="A presigned URL of the image a prediction was made from (GET it without signing)",
        description="404 also when no image is stored: a refused API upload is not kept.",
        parameters=(_PREDICTION_ID,),
        errors=("not_found", "storage_unavailable", "internal_error"),
        response={
            "type": "object",
            "required": ["prediction_id", "url", "expires_in"],
            "properties": {
                "prediction_id": {"type": "string", "format": "uuid"},
                "url": {"type": "string", "format": "uri"},
                "expires_in": {"type": "integer", "const": PRESIGNED_TTL_S, "description": "Seconds."},
            },
            "additionalProperties": False,
        },
    ),
    ("/stats", "GET"): Operation(
        summary="Predictions per UTC day and source over the last days, oldest first (today included)",
        parameters=(
            _query("days", {"type": "integer", "minimum": 1, "maximum": MAX_STATS_DAYS, "default": 7}, "Days."),
        ),
        errors=("invalid_parameter", "storage_unavailable", "internal_error"),
        response={
            "type": "object",
            "required": ["days"],
            "properties": {
                "days": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": MAX_STATS_DAYS,
                    "items": {
                        "type": "object",
                        "required": ["date", *SOURCES, "total"],
                        "properties": {
                            "date": {"type": "string", "format": "date"},
                            **{source: {"type": "integer", "minimum": 0} for source in SOURCES},
                            "total": {"type": "integer", "minimum": 0},
                        },
                        "additionalProperties": False,
                    },
                }
            },
            "additionalProperties": False,
        },
    ),
    ("/uploads", "POST"): Operation(
        summary="A presigned S3 form that puts one image into the inbox (for clients without AWS access)",
        description=(
            "POST fields, then the file (field file), as multipart/form-data to url within expires_in "
            "seconds; GET /uploads/{upload_id} then tells what became of it. The body, or either field, may be "
            "left out (null is the same)."
        ),
        request={
            "schema": {
                "type": "object",
                "properties": {
                    "filename": {"type": ["string", "null"], "description": "Kept readable in the key."},
                    "content_type": {
                        "enum": [*IMAGE_CONTENT_TYPES, None],
                        "description": "What S3 stores with the object; the image is judged from its bytes.",
                    },
                },
            }
        },
        body_required=False,
        status=201,
        errors=("malformed_json", "invalid_request", "unsupported_media_type", "storage_unavailable", "internal_error"),
        response={
            "type": "object",
            "required": ["upload_id", "key", "url", "fields", "max_bytes", "expires_in"],
            "properties": {
                "upload_id": {"type": "string"},
                "key": {"type": "string"},
                "url": {"type": "string", "format": "uri"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                "max_bytes": {"type": "integer", "const": MAX_IMAGE_BYTES},
                "expires_in": {"type": "integer", "const": PRESIGNED_TTL_S, "description": "Seconds."},
            },
            "additionalProperties": False,
        },
    ),
    ("/uploads/{upload_id}", "GET"): Operation(
        summary="What became of an upload: its prediction once the S3 trigger has recorded it, else null",
        parameters=(
            {
                "name": "upload_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                "description": "The upload_id POST /uploads answered; anything else is simply not found.",
            },
        ),
        errors=("not_found", "storage_unavailable", "internal_error"),
        response={
            "type": "object",
            "required": ["upload_id", "key", "prediction_id", "prediction"],
            "properties": {
                "upload_id": {"type": "string"},
                "key": {"type": "string"},
                "prediction_id": {"type": "string", "format": "uuid"},
                "prediction": {"oneOf": [_ref("Prediction"), {"type": "null"}]},
            },
            "additionalProperties": False,
        },
    ),
    ("/health", "GET"): Operation(
        summary="200 when the endpoint answers a real (tiny) inference and the table a real read; else 503",
        description="Public in every stage (no authentication).",
        errors=("internal_error",),
        response=_ref("Health"),
    ),
    ("/openapi.json", "GET"): Operation(
        summary="This document",
        description="Public in every stage (no authentication).",
        errors=("internal_error",),
        response={"type": "object"},
    ),
}

#: What ``GET /health`` checks: a real inference, a table read, a HeadBucket of each bucket.
HEALTH_CHECKS = ("endpoint", "table", "inbox_bucket", "results_bucket")
_NUMBER_0_1 = {"type": "number", "minimum": 0, "maximum": 1}
_DIGIT = {"type": "integer", "minimum": 0, "maximum": 9}
_PROBABILITIES = {"type": "array", "items": _NUMBER_0_1, "minItems": 10, "maxItems": 10}


def _prediction_schema() -> dict[str, Any]:
    """A stored prediction as the API returns it (``chalicelib.store.to_public``; docs/contracts.md)."""
    result = {
        "digit": {
            "type": ["integer", "null"],
            "minimum": 0,
            "maximum": 9,
            "description": "The digit when exactly one was found, else null.",
        },
        "number": {"type": "string", "pattern": r"^\d*$", "description": "All digits found, left to right."},
        "confidence": {**_NUMBER_0_1, "description": "The lowest of the digits' confidences."},
        "probabilities": {**_PROBABILITIES, "description": "Of the single (or first) digit."},
        "top_k": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["digit", "probability"],
                "properties": {"digit": _DIGIT, "probability": _NUMBER_0_1},
                "additionalProperties": False,
            },
        },
        "digits": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["digit", "confidence", "probabilities", "box"],
                "properties": {
                    "digit": _DIGIT,
                    "confidence": _NUMBER_0_1,
                    "probabilities": _PROBABILITIES,
                    "box": {
                        "type": "array",
                        "items": {"type": "integer"},
                        "minItems": 4,
                        "maxItems": 4,
                        "description": "[x0, y0, x1, y1] in the upright input's pixels.",
                    },
                },
                "additionalProperties": False,
            },
        },
        "model_input": {
            "type": "string",
            "contentEncoding": "base64",
            "contentMediaType": "image/png",
            "description": "The 28x28 image(s) the model saw, side by side.",
        },
        "model_version": {"type": "string"},
    }
    missing = set(RESULT_FIELDS) - set(result)
    if missing:  # a stored field nobody described
        raise KeyError(f"undocumented result fields: {sorted(missing)}")
    text = {"type": "string"}
    return {
        "type": "object",
        "required": ["prediction_id", "source", "status", "created_at"],
        "properties": {
            "prediction_id": {"type": "string", "format": "uuid"},
            "source": {"type": "string", "enum": list(SOURCES)},
            "status": {"type": "string", "enum": list(RECORD_STATUSES)},
            "created_at": {"type": "string", "pattern": _TIMESTAMP, "description": "ISO-8601 UTC."},
            **result,
            "latency_ms": {"type": "number", "minimum": 0, "description": "The endpoint round trip."},
            "image_bucket": text,
            "image_key": text,
            "result_key": text,
            "source_key": {"type": "string", "description": "The inbox key (inbox uploads only)."},
            "error_code": {"type": "string", "description": "Why it was rejected or failed."},
            "error_message": text,
            "feedback_label": _DIGIT,
            "feedback_at": {"type": "string", "pattern": _TIMESTAMP},
        },
        "additionalProperties": False,
    }


def _health_schema() -> dict[str, Any]:
    check = {
        "type": "object",
        "required": ["ok"],
        "properties": {
            "ok": {"type": "boolean"},
            "latency_ms": {"type": "number"},
            "code": {"type": "string"},
            "message": {"type": "string"},
        },
    }
    return {
        "type": "object",
        "required": ["status", "stage", "endpoint_name", "model_version", "model_source", "checks"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "stage": {"type": "string"},
            "endpoint_name": {"type": "string"},
            "model_version": {"type": ["string", "null"]},
            "model_source": {"type": ["string", "null"], "description": "Where the served model came from."},
            "model_promoted_at": {
                "type": ["string", "null"],
                "description": "When the served model was promoted (ISO-8601 UTC), when the endpoint says.",
            },
            "checks": {
                "type": "object",
                "required": list(HEALTH_CHECKS),
                "properties": dict.fromkeys(HEALTH_CHECKS, check),
            },
        },
    }


def _error_schema(codes: Iterable[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string", "enum": list(codes)}, "message": {"type": "string"}},
            }
        },
    }


_REQUEST_ID = {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}}
_RETRY_AFTER = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}


def _json_response(description: str, schema: dict[str, Any], headers: Mapping[str, Any]) -> dict[str, Any]:
    return {"description": description, "headers": dict(headers), "content": {"application/json": {"schema": schema}}}


def _responses(route: RouteEntry, operation: Operation) -> dict[str, Any]:
    responses = {str(operation.status): _json_response("OK", operation.response, _REQUEST_ID)}
    if (route.uri_pattern, route.method) == ("/health", "GET"):
        responses["503"] = _json_response("A dependency is down", operation.response, {**_REQUEST_ID, **_RETRY_AFTER})
    codes = list(operation.errors)
    if route.content_types and "unsupported_media_type" not in codes:
        codes.append("unsupported_media_type")  # Chalice refuses a Content-Type the route does not take
    by_status: dict[int, list[ErrorCode]] = {}
    for code in codes:
        by_status.setdefault(ERRORS[code].status, []).append(ERRORS[code])
    for status, errors in sorted(by_status.items()):
        headers = {**_REQUEST_ID, **(_RETRY_AFTER if status == 503 else {})}
        description = "; ".join(f"`{e.code}`: {e.when}" for e in errors)
        responses[str(status)] = _json_response(description, _error_schema(e.code for e in errors), headers)
    if route.authorizer is not None:
        responses["403"] = _json_response(
            "API Gateway: a missing or invalid SigV4 signature (its own body, not the error object)",
            {"type": "object", "properties": {"message": {"type": "string"}}},
            {},
        )
    return dict(sorted(responses.items()))


def _operation(route: RouteEntry) -> dict[str, Any]:
    operation = OPERATIONS[(route.uri_pattern, route.method)]
    spec: dict[str, Any] = {"operationId": route.view_name, "summary": operation.summary}
    if operation.description:
        spec["description"] = operation.description
    if operation.parameters:
        spec["parameters"] = list(operation.parameters)
    if operation.request is not None:
        spec["requestBody"] = {
            "required": operation.body_required,
            "content": {content_type: operation.request for content_type in route.content_types},
        }
    spec["responses"] = _responses(route, operation)
    spec["security"] = [{"sigv4": []}] if route.authorizer is not None else []
    return spec


def document(routes: Mapping[str, Mapping[str, RouteEntry]], title: str = "Digit recognition API") -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (``app.routes``); KeyError for a route not in :data:`OPERATIONS`."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": API_VERSION,
            "description": (
                'Every error is {"error": {"code", "message"}} with the status of its code; every answer has '
                "an X-Request-Id header. A 503 says when to retry (Retry-After) and means nothing was stored. "
                f"A method a path does not have: {ERRORS['method_not_allowed'].status} method_not_allowed, "
                "with an Allow header."
            ),
        },
        # Relative to where the document is served: the API Gateway stage (``.../api/``) or chalice local.
        "servers": [{"url": ".", "description": "The API this document was fetched from."}],
        "paths": {
            path: {method.lower(): _operation(route) for method, route in sorted(methods.items())}
            for path, methods in sorted(routes.items())
        },
        "components": {
            "schemas": {
                "Prediction": _prediction_schema(),
                "PredictionPage": _page_schema(),
                "Health": _health_schema(),
            },
            "headers": {
                "RequestId": {
                    "required": True,
                    "schema": {"type": "string"},
                    "description": "The request's id; the logs carry it as correlation_id.",
                },
                "RetryAfter": {
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0},
                    "description": "Seconds after which a retry may succeed.",
                },
            },
            "securitySchemes": {
                "sigv4": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "description": "AWS Signature Version 4: API Gateway's AWS_IAM authorizer, in stages with "
                    "DIGITS_API_AUTH=iam.",
                    "x-amazon-apigateway-authtype": "awsSigv4",
                }
            },
        },
    }


def _page_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref("Prediction")},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as cursor for the next page; null at the end.",
            },
        },
        "additionalProperties": False,
    }

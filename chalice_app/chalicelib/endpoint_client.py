"""The one way this service calls the model: SageMaker Runtime ``InvokeEndpoint``.

* One boto3 client per container, created on first use (after the environment is final), reused.
* Timeouts and retries come from botocore: ``standard`` retry mode retries throttling, 5xx and
  connection errors with exponential backoff and jitter, ``total_max_attempts`` in all; a ``ModelError`` (the
  model rejected or crashed on this input) is never retried.
* Errors map to :mod:`chalicelib.errors`: the model's 4xx (``OriginalStatusCode`` / ``OriginalMessage``)
  become :class:`ImageRejected` with the model's own code; everything that says "not now" becomes
  :class:`EndpointUnavailable` (503 + ``Retry-After``).
* Locally, ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` points boto3 at ``ops.endpoint`` (boto3 reads it itself).
"""

from __future__ import annotations

import base64
import json
import logging
import time
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import EndpointUnavailable, ImageRejected, ModelFailed

log = logging.getLogger(__name__)

#: Bounded so that three attempts with backoff stay inside API Gateway's 29 s integration timeout.
CONNECT_TIMEOUT_S = 2
READ_TIMEOUT_S = 8
MAX_ATTEMPTS = 3
#: What a client is told to wait before retrying when the endpoint is unavailable.
RETRY_AFTER_S = 5

#: A 28x28 PNG of a vertical stroke (a "1"), 84 bytes: the health check's cheap real inference.
PROBE_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAABwAAAAcCAAAAABXZoBIAAAAG0lEQVR42mNgoD9gROb8RxNgwqdzVHJUcuAAAO1CASgdv5ygAAAAAElFTkSuQmCC"
)

_UNAVAILABLE_CODES = {
    "ThrottlingException": "endpoint_throttled",
    "ModelNotReadyException": "endpoint_unavailable",
    "ServiceUnavailable": "endpoint_unavailable",
    "InternalFailure": "endpoint_unavailable",
    "InternalDependencyException": "endpoint_unavailable",
    "ValidationError": "endpoint_not_found",  # "Endpoint ... of account ... not found." (or being replaced)
}


@cache
def runtime_client() -> Any:
    """The container's ``sagemaker-runtime`` client (created once, on first use)."""
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
    )
    return boto3.client("sagemaker-runtime", config=config)


@dataclass(frozen=True)
class Prediction:
    """The endpoint's answer (``docs/contracts.md``, "Endpoint output") and how long it took."""

    result: dict[str, Any]
    latency_ms: float
    #: Where the served model came from, when the endpoint says (``model_source=`` in its CustomAttributes:
    #: the local endpoint does, e.g. ``s3://...`` or ``tuning-job:NAME``).
    model_source: str | None = None
    #: When the served model was promoted (``promoted_at=`` in the CustomAttributes, ISO-8601 UTC; the
    #: local endpoint says when it follows the local model registry).
    promoted_at: str | None = None


@dataclass(frozen=True)
class EndpointClient:
    endpoint_name: str

    def predict(self, image: bytes, content_type: str) -> Prediction:
        """Send one image to the endpoint; raise a :class:`~chalicelib.errors.ServiceError` on failure."""
        started = time.perf_counter()
        try:
            response = runtime_client().invoke_endpoint(
                EndpointName=self.endpoint_name, Body=image, ContentType=content_type, Accept="application/json"
            )
            body = response["Body"].read()
            attributes = parse_qs(response.get("CustomAttributes") or "", separator=";")
        except ClientError as exc:
            raise _map_client_error(exc, self.endpoint_name) from exc
        except BotoCoreError as exc:  # connection refused, timeouts (after the retries)
            log.warning("endpoint %s unreachable: %s", self.endpoint_name, exc)
            raise EndpointUnavailable(
                "the model endpoint is not reachable; retry shortly", retry_after=RETRY_AFTER_S
            ) from exc
        latency_ms = (time.perf_counter() - started) * 1000
        try:
            result = json.loads(body)
            if not isinstance(result, dict) or "number" not in result:
                raise ValueError("not a prediction")
        except ValueError as exc:
            log.error("endpoint %s answered something that is not a prediction: %r", self.endpoint_name, body[:200])
            raise ModelFailed("the model endpoint gave an unreadable answer") from exc
        return Prediction(
            result,
            round(latency_ms, 2),
            (attributes.get("model_source") or [None])[0],
            (attributes.get("promoted_at") or [None])[0],
        )

    def probe(self) -> Prediction:
        """A real, cheap inference (84-byte image) proving the endpoint is up and the model loaded."""
        return self.predict(PROBE_PNG, "image/png")


def _map_client_error(exc: ClientError, endpoint_name: str) -> Exception:
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    if code == "ModelError":
        status = int(exc.response.get("OriginalStatusCode") or 0)
        model_code, message = _original_error(exc.response.get("OriginalMessage"))
        if 400 <= status < 500:
            return ImageRejected(message, code=model_code, status=status)
        log.error("model on %s failed (status %s): %s", endpoint_name, status, exc.response.get("OriginalMessage"))
        return ModelFailed("the model failed on this input")
    if code in _UNAVAILABLE_CODES:
        log.warning("endpoint %s unavailable: %s %s", endpoint_name, code, error.get("Message"))
        return EndpointUnavailable(
            "the model endpoint is busy or unavailable; retry shortly",
            code=_UNAVAILABLE_CODES[code],
            retry_after=RETRY_AFTER_S,
        )
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    log.error("endpoint %s refused the call: %s %s (HTTP %s)", endpoint_name, code, error.get("Message"), status)
    if status >= 500 or status == 429:
        return EndpointUnavailable("the model endpoint is unavailable; retry shortly", retry_after=RETRY_AFTER_S)
    return ModelFailed("the model endpoint refused the call")  # e.g. AccessDenied: a deployment problem


def _original_error(original: object) -> tuple[str, str]:
    """``(code, message)`` from the model's JSON error body; ``corrupt_image`` when it has none."""
    try:
        error = json.loads(original)["error"]  # type: ignore[arg-type]
        return str(error["code"]), str(error["message"])
    except (TypeError, ValueError, KeyError):
        log.error("model error without our JSON body: %r", str(original)[:300])
        return "corrupt_image", "the model could not read this image"

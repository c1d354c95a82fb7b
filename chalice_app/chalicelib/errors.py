"""The errors the service reports to its clients, each with a stable code and that code's HTTP status
(:data:`chalicelib.contract.STATUSES`, shared with the endpoint).

Every error body has the same shape as the endpoint's (``docs/contracts.md``):
``{"error": {"code": "...", "message": "..."}}``. Messages are written for the caller; internal details
(stack traces, ``str()`` of a botocore exception) are logged, never returned.
"""

from __future__ import annotations

from typing import Any

from chalicelib.contract import STATUSES, error_body


class ServiceError(Exception):
    """An expected failure with the code, HTTP status and message the client receives. The status is the
    code's (:data:`~chalicelib.contract.STATUSES`) unless given: an endpoint's 4xx is passed on as it was."""

    code: str = "internal_error"

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.status = status or STATUSES.get(self.code, 500)
        #: Seconds after which a retry may succeed (sent as ``Retry-After``).
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


class BadRequest(ServiceError):
    """The request itself is wrong (empty body, malformed JSON, a bad parameter or cursor): 400."""

    code = "invalid_request"


class NotFound(ServiceError):
    code = "not_found"


class ImageRejected(ServiceError):
    """The image cannot be read as a digit: too large (413), not an image (415), no digit (422), ...

    Raised by :mod:`chalicelib.media` before the endpoint is called, and by the endpoint client when
    the model itself rejects the input (a ``ModelError`` whose original status is a 4xx).
    """

    code = "corrupt_image"


class EndpointUnavailable(ServiceError):
    """The SageMaker endpoint cannot answer now (down, throttled, timing out): 503 + ``Retry-After``."""

    code = "endpoint_unavailable"


class ModelFailed(ServiceError):
    """The model crashed on this input (a ``ModelError`` with a 5xx original status): 502."""

    code = "model_error"


class StorageUnavailable(ServiceError):
    """DynamoDB or S3 refused or did not answer: 503 + ``Retry-After``."""

    code = "storage_unavailable"

"""The one error type for bad input, shared by the handlers, the local endpoint and the CLI.

Each error carries a stable machine-readable ``code`` (documented in ``docs/contracts.md``), a message
for people, and the HTTP status the endpoint answers with. Anything that is not an ``InputError`` is a
bug or an infrastructure failure (HTTP 500).
"""

from __future__ import annotations

#: Every code with its HTTP status. The single source of truth for the statuses.
STATUSES: dict[str, int] = {
    "empty_body": 400,
    "malformed_json": 400,
    "invalid_pixels": 400,
    "unsupported_accept": 406,
    "image_too_large": 413,
    "unsupported_media_type": 415,
    "corrupt_image": 422,
    "no_digit_found": 422,
}


class InputError(ValueError):
    """A request the model cannot answer because of its content; the client should change the request."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        if code not in STATUSES:
            raise ValueError(f"unknown input error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = STATUSES[code] if status is None else status

    def to_dict(self) -> dict[str, dict[str, str]]:
        """The response body: ``{"error": {"code": ..., "message": ...}}``."""
        return {"error": {"code": self.code, "message": self.message}}

    def __repr__(self) -> str:
        return f"InputError({self.code!r}, {self.message!r}, {self.status})"

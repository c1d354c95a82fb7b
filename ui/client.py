"""Every call the UI makes, all of them to the HTTP API: one way in, one auth model.

Pages hold layout only and call the functions here. The API is ``$DIGITS_API_URL``, else the stage's
``api_url`` (``chalicelib/stages.json``; ``$DIGITS_STAGE``, default ``local``). When the stage's
``api_auth`` is ``iam`` (``dev`` and ``prod``: API Gateway's IAM authorizer; ``DIGITS_API_AUTH`` overrides
it) every request is SigV4-signed with the caller's AWS credentials.

The UI has no AWS access of its own: an inbox upload goes to S3 through the presigned form that
``POST /uploads`` hands out, and stored images are read through the presigned URLs of
``GET /predictions/{id}/image`` (``docs/api.md``).
"""

from __future__ import annotations

import io
import mimetypes
import os
import re
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from PIL import Image

from chalicelib.config import StageConfig, load
from chalicelib.contract import IMAGE_EXTENSIONS, MAX_IMAGE_BYTES, too_large

#: Seconds the UI waits for one API call (cold Lambda + cold endpoint stay well under it).
API_TIMEOUT_S = 30
#: Seconds the event-driven path may take from the upload to the record in DynamoDB before the UI gives up.
INBOX_TIMEOUT_S = 30
#: File name extensions the uploader offers (the API decides from the bytes, not from the name).
UPLOAD_EXTENSIONS = IMAGE_EXTENSIONS
#: The largest image the service accepts on either path.
MAX_UPLOAD_BYTES = MAX_IMAGE_BYTES
SOURCES = {"api": "instant (API)", "s3": "event-driven (S3)"}

Prediction = dict[str, Any]


class Failure(Exception):
    """Something the UI shows instead of a prediction: a rejected image, an unreachable service, a timeout.

    ``code`` and ``message`` are the API's (``{"error": {"code", "message"}}``) or the stored record's;
    ``status`` is the HTTP status when there was one, else 0.
    """

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def config() -> StageConfig:
    return load()


# -- the API ---------------------------------------------------------------------------------------------


def api_url() -> str:
    url = os.environ.get("DIGITS_API_URL") or config().api_url
    if not url:
        raise Failure("api_not_configured", f"no API URL for stage {config().stage!r}: set DIGITS_API_URL")
    return url.rstrip("/")


@cache
def _http() -> requests.Session:
    return requests.Session()


def _sign(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """SigV4 for API Gateway's IAM authorizer (service ``execute-api``)."""
    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise Failure("no_credentials", "DIGITS_API_AUTH=iam but no AWS credentials were found")
    aws_request = AWSRequest(method=request.method, url=request.url, data=request.body, headers=dict(request.headers))
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", config().region).add_auth(aws_request)
    request.headers.update(dict(aws_request.headers))
    return request


def _call(method: str, path: str, **kwargs: Any) -> Any:
    request = requests.Request(method, f"{api_url()}{path}", **kwargs).prepare()
    if config().api_auth == "iam":
        request = _sign(request)
    try:
        resp = _http().send(request, timeout=API_TIMEOUT_S)
    except requests.RequestException as exc:
        raise Failure("api_unreachable", f"the API at {api_url()} did not answer ({type(exc).__name__})") from exc
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.ok and isinstance(body, dict):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        raise Failure(str(error.get("code", "error")), str(error.get("message", resp.reason)), resp.status_code)
    raise Failure(f"http_{resp.status_code}", f"the API answered {resp.status_code} {resp.reason}", resp.status_code)


def content_type_for(filename: str, declared: str | None = None) -> str:
    """The Content-Type for an upload: the browser's, else guessed from the name.

    A hint only: the API sniffs the real type from the bytes (:mod:`chalicelib.media`).
    """
    if declared and declared != "application/octet-stream":
        return declared
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def predict(image: bytes, content_type: str = "image/png") -> Prediction:
    """The instant path: ``POST /predict`` with the raw image as the body; returns the stored record."""
    return _call("POST", "/predict", data=image, headers={"Content-Type": content_type, "Accept": "application/json"})


def health() -> dict[str, Any]:
    """``GET /health``. A 503 (something is down) is an answer too: its body says what."""
    try:
        return _call("GET", "/health")
    except Failure as exc:
        if exc.status != 503:
            raise
    resp = _http().get(f"{api_url()}/health", timeout=API_TIMEOUT_S)
    return resp.json()


def get_prediction(prediction_id: str) -> Prediction:
    return _call("GET", f"/predictions/{prediction_id}")


@dataclass(frozen=True)
class Page:
    """One page of ``GET /predictions``, newest first; ``cursor`` fetches the next one (None: the last)."""

    items: list[Prediction]
    cursor: str | None


def list_predictions(
    limit: int = 20,
    cursor: str | None = None,
    source: str | None = None,
    digit: int | None = None,
    status: str | None = None,
    corrected: bool | None = None,
) -> Page:
    params = {
        "limit": limit,
        "cursor": cursor,
        "source": source,
        "digit": digit,
        "status": status,
        "corrected": None if corrected is None else str(corrected).lower(),
    }
    body = _call("GET", "/predictions", params={k: v for k, v in params.items() if v is not None})
    return Page(items=body.get("items", []), cursor=body.get("next_cursor"))


def recent_predictions(count: int, source: str | None = None) -> list[Prediction]:
    """The newest ``count`` predictions (several pages of the API), for the History page's statistics."""
    items: list[Prediction] = []
    cursor = None
    while len(items) < count:
        page = list_predictions(limit=min(100, count - len(items)), cursor=cursor, source=source)
        items.extend(page.items)
        cursor = page.cursor
        if cursor is None:
            break
    return items


def send_feedback(prediction_id: str, label: int) -> Prediction:
    """Record the right digit for a prediction (``POST /predictions/{id}/feedback``)."""
    return _call("POST", f"/predictions/{prediction_id}/feedback", json={"label": int(label)})


def daily_counts(days: int = 1) -> list[dict[str, Any]]:
    """Predictions per UTC day and source, oldest first (``GET /stats``):
    ``[{"date": "2026-11-30", "api": 3, "s3": 1, "total": 4}, ...]``, today last."""
    return _call("GET", "/stats", params={"days": days})["days"]


# -- the event-driven path: the inbox, through the API's presigned forms ----------------------------------


@dataclass(frozen=True)
class InboxUpload:
    """An image put into the inbox bucket; ``GET /uploads/{upload_id}`` tells what became of it."""

    upload_id: str
    key: str


#: S3's refusals of an upload form, as the API's error codes (the form caps the size).
_S3_FORM_ERRORS = {"EntityTooLarge": "image_too_large", "EntityTooSmall": "empty_body"}


def upload_to_inbox(image: bytes, filename: str, content_type: str | None = None) -> InboxUpload:
    """The event-driven path, first half: ``POST /uploads`` for a presigned form, then the file to S3."""
    body = {"filename": filename, "content_type": content_type_for(filename, content_type)}
    form = _call("POST", "/uploads", json=body)
    try:
        resp = _http().post(
            form["url"], data=form["fields"], files={"file": (form["upload_id"], image)}, timeout=API_TIMEOUT_S
        )
    except requests.RequestException as exc:
        raise Failure("upload_failed", f"the inbox bucket did not answer ({type(exc).__name__})") from exc
    if not resp.ok:
        code = re.search(r"<Code>([^<]+)</Code>", resp.text)
        s3_code = code.group(1) if code else f"HTTP {resp.status_code}"
        message = f"the inbox bucket refused the upload ({s3_code})"
        if s3_code == "EntityTooLarge":
            message = too_large(len(image), form["max_bytes"]).message
        raise Failure(_S3_FORM_ERRORS.get(s3_code, "upload_failed"), message, resp.status_code)
    return InboxUpload(upload_id=form["upload_id"], key=form["key"])


def wait_for_record(
    upload_id: str, timeout: float = INBOX_TIMEOUT_S, interval: float = 0.2, what: str = "the image"
) -> Prediction:
    """The event-driven path, second half: poll ``GET /uploads/{upload_id}`` until the trigger has recorded it.

    A ``failed`` record is not final (the event is retried); it is returned only when time runs out.
    """
    deadline = time.monotonic() + timeout
    record = None
    while True:
        record = _call("GET", f"/uploads/{upload_id}")["prediction"]
        if record is not None and record.get("status") != "failed":
            return record
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    if record is not None:
        return record
    raise Failure(
        "result_timeout",
        f"no result for {what} after {timeout:.0f} s: the S3 trigger has not recorded it yet "
        "(locally: is the event bridge running?). It will appear on the History page when it does.",
    )


@dataclass
class Outcome:
    """What became of one uploaded file: a stored prediction, or why there is none."""

    name: str
    path: str
    prediction: Prediction | None = None
    failure: Failure | None = None
    #: Wall-clock seconds from sending the file to having its record (both paths: what a user waits).
    seconds: float = 0.0


def predict_file(
    name: str, data: bytes, declared_type: str | None, path: str, timeout: float = INBOX_TIMEOUT_S
) -> Outcome:
    """Predict one uploaded file through ``path``: ``"api"`` (instant) or ``"s3"`` (event-driven)."""
    started = time.perf_counter()
    try:
        if path == "api":
            record = predict(data, content_type_for(name, declared_type))
        else:
            upload = upload_to_inbox(data, name, declared_type)
            record = wait_for_record(upload.upload_id, timeout=timeout, what=name)
    except Failure as exc:
        return Outcome(name, path, failure=exc, seconds=time.perf_counter() - started)
    outcome = Outcome(name, path, prediction=record, seconds=time.perf_counter() - started)
    if record.get("status") in ("rejected", "failed"):
        outcome.failure = Failure(record.get("error_code", record["status"]), record.get("error_message", ""))
    return outcome


# -- status and images --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One line of the status panel."""

    name: str
    ok: bool
    detail: str


#: The API's health checks of storage (``GET /health``), as the status panel names them.
_STORAGE_CHECKS = {"table": "Predictions table", "inbox_bucket": "Inbox bucket", "results_bucket": "Results bucket"}


def system_status() -> list[Check]:
    """The status panel, from the API's own health report: the API, the model endpoint, the table and
    the buckets. When the API does not answer, that is the one line (nothing else was checked)."""
    cfg = config()
    try:
        report = health()
    except Failure as exc:
        return [Check("API", False, exc.message)]
    checks = report.get("checks", {})
    endpoint = checks.get("endpoint", {})
    name = report.get("endpoint_name", cfg.endpoint_name)
    detail = (
        f"{name}: model {report.get('model_version')}"
        + (f" from `{report['model_source']}`" if report.get("model_source") else "")
        + (f", promoted {report['model_promoted_at']}" if report.get("model_promoted_at") else "")
        + f", probe {endpoint.get('latency_ms', 0):.0f} ms"
        if endpoint.get("ok")
        else f"{name}: {endpoint.get('message', 'unknown')}"
    )
    status = [
        Check("API", report.get("status") == "ok", f"{api_url()} ({report.get('status', '?')})"),
        Check("Model endpoint", bool(endpoint.get("ok")), detail),
    ]
    resources = {"table": cfg.predictions_table, "inbox_bucket": cfg.inbox_bucket, "results_bucket": cfg.results_bucket}
    for key, label in _STORAGE_CHECKS.items():
        check = checks.get(key, {})
        ok = bool(check.get("ok"))
        status.append(Check(label, ok, resources[key] + ("" if ok else f": {check.get('message', 'not reported')}")))
    return status


def thumbnail(prediction_id: str, size: int = 72) -> bytes:
    """A small PNG of a prediction's stored image: its presigned URL (``GET /predictions/{id}/image``), read."""
    url = _call("GET", f"/predictions/{prediction_id}/image")["url"]
    try:
        resp = _http().get(url, timeout=API_TIMEOUT_S)
    except requests.RequestException as exc:
        raise Failure("image_unreachable", f"the stored image did not answer ({type(exc).__name__})") from exc
    if not resp.ok:
        raise Failure("image_unavailable", f"the stored image answered {resp.status_code}", resp.status_code)
    img = Image.open(io.BytesIO(resp.content))
    img.thumbnail((size, size))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()

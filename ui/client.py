"""Every call the UI makes: the HTTP API, the inbox bucket, the predictions table, the results bucket.

Pages hold layout only and call the functions here. Where things are:

* the API: ``$DIGITS_API_URL``, else the stage's ``api_url`` (``chalicelib/stages.json``). When the
  stage's ``api_auth`` is ``iam`` (``dev`` and ``prod``: API Gateway's IAM authorizer; ``DIGITS_API_AUTH``
  overrides it) every request is SigV4-signed with the caller's AWS credentials;
* AWS resources: the stage's names from :func:`chalicelib.config.load` (``$DIGITS_STAGE``, default
  ``local``); boto3 reaches the emulator through ``$AWS_ENDPOINT_URL`` when it is set.

Stored predictions are read through :mod:`chalicelib.store`, the one module that knows the item shape,
the ids and the S3 layout. Nothing here scans the table.
"""

from __future__ import annotations

import io
import mimetypes
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar

import boto3
import requests
from boto3.dynamodb.conditions import Key
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from PIL import Image

from chalicelib.config import StageConfig, load
from chalicelib.errors import ServiceError
from chalicelib.media import MAX_IMAGE_BYTES
from chalicelib.store import SOURCE_INDEX, PredictionStore, inbox_prediction_id

#: Seconds the UI waits for one API call (cold Lambda + cold endpoint stay well under it).
API_TIMEOUT_S = 30
#: Seconds the event-driven path may take from the upload to the record in DynamoDB before the UI gives up.
INBOX_TIMEOUT_S = 30
#: File name extensions the uploader offers (the API decides from the bytes, not from the name).
UPLOAD_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff")
#: The largest image the service accepts on either path.
MAX_UPLOAD_BYTES = MAX_IMAGE_BYTES
SOURCES = {"api": "instant (API)", "s3": "event-driven (S3)"}

Prediction = dict[str, Any]
T = TypeVar("T")


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


def store() -> PredictionStore:
    return PredictionStore(config())


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
) -> Page:
    params = {"limit": limit, "cursor": cursor, "source": source, "digit": digit, "status": status}
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


# -- AWS: inbox bucket, predictions table, results bucket -------------------------------------------------


#: The UI fails fast and says so, rather than hanging a page on retries.
_AWS_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 2})


@cache
def _aws(service: str) -> Any:
    return boto3.client(service, region_name=config().region, config=_AWS_CONFIG)


def _aws_call(what: str, call: Callable[[], T]) -> T:
    """Run one AWS call; its failure becomes a :class:`Failure` that says what could not be done."""
    try:
        return call()
    except ClientError as exc:
        raise Failure("aws_error", f"{what} failed: {exc.response.get('Error', {}).get('Code', 'error')}") from exc
    except BotoCoreError as exc:
        raise Failure("aws_unreachable", f"{what} failed: {type(exc).__name__}") from exc
    except ServiceError as exc:
        raise Failure(exc.code, f"{what} failed: {exc.message}", exc.status) from exc


def inbox_key(filename: str) -> str:
    """A new key under the inbox prefix that keeps the file's name readable."""
    name = os.path.basename(filename) or "image"
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return f"{config().inbox_prefix}ui/{uuid.uuid4().hex[:12]}-{safe}"


@dataclass(frozen=True)
class InboxUpload:
    """An image put into the inbox bucket, and the id its record will have."""

    key: str
    prediction_id: str


def upload_to_inbox(image: bytes, filename: str, content_type: str | None = None) -> InboxUpload:
    """The event-driven path, first half: put the file into the inbox bucket.

    The S3 trigger names the record after bucket, key and object version (``versionId``, else the ETag:
    :class:`chalicelib.service.InboxObject`), so the id is known as soon as S3 has answered.
    """
    cfg = config()
    key = inbox_key(filename)
    response = _aws_call(
        "uploading to the inbox bucket",
        lambda: _aws("s3").put_object(
            Bucket=cfg.inbox_bucket, Key=key, Body=image, ContentType=content_type_for(filename, content_type)
        ),
    )
    version = response.get("VersionId") or response["ETag"].strip('"')
    return InboxUpload(key=key, prediction_id=inbox_prediction_id(cfg.inbox_bucket, key, version))


def wait_for_record(
    prediction_id: str, timeout: float = INBOX_TIMEOUT_S, interval: float = 0.2, what: str = "the image"
) -> Prediction:
    """The event-driven path, second half: poll DynamoDB (GetItem by id) until the trigger has finished.

    A ``failed`` record is not final (the event is retried); it is returned only when time runs out.
    """
    deadline = time.monotonic() + timeout
    record = None
    while True:
        record = _aws_call("reading the prediction", lambda: store().get(prediction_id))
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
            record = wait_for_record(upload.prediction_id, timeout=timeout, what=name)
    except Failure as exc:
        return Outcome(name, path, failure=exc, seconds=time.perf_counter() - started)
    outcome = Outcome(name, path, prediction=record, seconds=time.perf_counter() - started)
    if record.get("status") in ("rejected", "failed"):
        outcome.failure = Failure(record.get("error_code", record["status"]), record.get("error_message", ""))
    return outcome


def today_start() -> str:
    """Midnight UTC today, in the table's ``created_at`` format (``store.utc_now``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT00:00:00.000000Z")


def count_today(source: str) -> int:
    """Predictions of one source since midnight UTC: a COUNT Query on the ``by-source`` index, no Scan."""
    table = boto3.resource("dynamodb", region_name=config().region, config=_AWS_CONFIG).Table(
        config().predictions_table
    )
    query: dict[str, Any] = {
        "IndexName": SOURCE_INDEX,
        "KeyConditionExpression": Key("source").eq(source) & Key("created_at").gte(today_start()),
        "Select": "COUNT",
    }
    total = 0
    while True:
        page = _aws_call("counting today's predictions", lambda: table.query(**query))
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass(frozen=True)
class Check:
    """One line of the status panel."""

    name: str
    ok: bool
    detail: str


def _check(name: str, call: Callable[[], str]) -> Check:
    try:
        return Check(name, True, call())
    except Failure as exc:
        return Check(name, False, exc.message)


def system_status() -> list[Check]:
    """The status panel: the API's own health report, then one cheap call to each resource the UI uses."""
    cfg = config()
    checks: list[Check] = []
    try:
        report = health()
    except Failure as exc:
        checks.append(Check("API", False, f"{exc.message}"))
    else:
        checks.append(Check("API", report.get("status") == "ok", f"{api_url()} ({report.get('status', '?')})"))
        endpoint = report.get("checks", {}).get("endpoint", {})
        detail = (
            f"{report.get('endpoint_name', cfg.endpoint_name)}: model {report.get('model_version')}"
            + (f" from `{report['model_source']}`" if report.get("model_source") else "")
            + f", probe {endpoint.get('latency_ms', 0):.0f} ms"
            if endpoint.get("ok")
            else f"{report.get('endpoint_name', cfg.endpoint_name)}: {endpoint.get('message', 'unknown')}"
        )
        checks.append(Check("Model endpoint", bool(endpoint.get("ok")), detail))
    checks.append(
        _check(
            "Predictions table",
            lambda: f"{cfg.predictions_table}: "
            + _aws_call(
                "DescribeTable", lambda: _aws("dynamodb").describe_table(TableName=cfg.predictions_table)
            )["Table"]["TableStatus"].lower(),
        )
    )
    for name, bucket in (("Inbox bucket", cfg.inbox_bucket), ("Results bucket", cfg.results_bucket)):
        checks.append(
            _check(name, lambda b=bucket: (_aws_call("HeadBucket", lambda: _aws("s3").head_bucket(Bucket=b)), b)[1])
        )
    return checks


def thumbnail(bucket: str, key: str, size: int = 72) -> bytes:
    """A small PNG of a stored image (results bucket for API uploads, inbox bucket for S3 ones)."""
    data = _aws_call("reading the image", lambda: _aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    img = Image.open(io.BytesIO(data))
    img.thumbnail((size, size))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()

"""The prediction store: the one module that knows the DynamoDB item and the S3 layout.

Layout (``docs/contracts.md``):

* DynamoDB predictions table, key ``prediction_id``; GSI ``by-time`` (``feed`` = ``"all"``, ``created_at``)
  for the newest predictions, GSI ``by-source`` (``source``, ``created_at``) for the newest of one source.
  Listing is always a Query on one of them, newest first, never a Scan.
* Results bucket: ``images/<yyyy>/<mm>/<dd>/<prediction_id>.<ext>`` (images posted to the API) and
  ``results/<yyyy>/<mm>/<dd>/<prediction_id>.json`` (the full record). Images dropped into the inbox
  bucket stay there; the record points at them (``image_bucket``/``image_key`` = ``source_key``).

Retention (the stage's ``retention_days``, ``docs/security.md``): each item carries ``expires_at`` (epoch
seconds, ``created_at`` + that many days), the table's TTL attribute, and the buckets' lifecycle rules
(``ops/retention.py``) expire the objects under ``images/``, ``results/`` and the inbox prefix after the
same number of days.

Clients never get AWS access of their own: images are uploaded into the inbox through a presigned POST
form (:meth:`PredictionStore.upload_form`, size-capped by S3 itself) and read back through presigned GET
URLs (:meth:`PredictionStore.image_url`), both signed with the service's own credentials.

Write order, so that a crash loses nothing and leaves nothing dangling that a record points to: image,
then result JSON, then the item (the item is what the UI lists). Records of inbox objects have a
deterministic id and a conditional put: a redelivered event can replace a ``failed`` record, never a
finished one (which may carry the user's feedback).
"""

from __future__ import annotations

import base64
import binascii
import json
import operator
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache, reduce
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from chalicelib.config import StageConfig
from chalicelib.errors import BadRequest, NotFound, ServiceError, StorageUnavailable
from chalicelib.media import MAX_IMAGE_BYTES, Image

FEED = "all"
FEED_INDEX = "by-time"
SOURCE_INDEX = "by-source"
SOURCES = ("api", "s3")
STATUSES = ("succeeded", "rejected", "failed")
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
#: A filtered listing reads at most this many DynamoDB pages per request, then returns what it found
#: with a cursor: a rare filter value never turns one request into a read of the whole table.
MAX_QUERY_PAGES = 10
#: S3's longest object key, in UTF-8 bytes: the longest ``source_key`` a listing is asked for.
MAX_KEY_BYTES = 1024
RETRY_AFTER_S = 2
#: A user's label that differs from the predicted digit (a several-digit record has no ``digit``: any label).
CORRECTED = Attr("feedback_label").exists() & ~Attr("feedback_label").eq(Attr("digit"))
#: Key prefixes of the results bucket (expired by the stage's lifecycle rules).
IMAGES_PREFIX = "images/"
RESULTS_PREFIX = "results/"
#: The predictions table's TTL attribute: epoch seconds after which DynamoDB deletes the item.
EXPIRES_AT = "expires_at"
#: Folder under the inbox prefix for images uploaded through ``POST /uploads``.
UPLOADS_FOLDER = "uploads/"
#: Seconds a presigned upload form or image URL stays valid.
PRESIGNED_TTL_S = 300
#: ``GET /stats`` counts at most this many days (today included).
MAX_STATS_DAYS = 31

_INBOX_NAMESPACE = uuid.UUID("6f1c2b0e-4a57-4c8e-9a55-6d1f0b7f3c21")
_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
_UPLOAD_ID = re.compile(r"^[0-9a-f]{16}-[A-Za-z0-9._-]{1,100}$")
#: Fields of the endpoint's answer kept on the record (``docs/contracts.md``).
RESULT_FIELDS = ("digit", "number", "confidence", "probabilities", "top_k", "digits", "model_input", "model_version")


@cache
def _s3() -> Any:
    return boto3.client("s3")


@cache
def _presigner() -> Any:
    """An S3 client for presigned URLs and forms: Signature Version 4 (every region accepts it)."""
    return boto3.client("s3", config=Config(signature_version="s3v4"))


@cache
def _dynamodb() -> Any:
    return boto3.resource("dynamodb")


@cache
def _uploads() -> ThreadPoolExecutor:
    """Threads for concurrent S3 writes (boto3 clients are thread-safe)."""
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="store-s3")


def new_prediction_id() -> str:
    return str(uuid.uuid4())


def inbox_prediction_id(bucket: str, key: str, version: str) -> str:
    """The same inbox object version always gets the same id, so a redelivery cannot duplicate it."""
    return str(uuid.uuid5(_INBOX_NAMESPACE, f"s3://{bucket}/{key}#{version}"))


def is_prediction_id(value: str) -> bool:
    return bool(_ID.match(value))


def new_upload_id(filename: str | None) -> str:
    """A fresh id for an inbox upload that keeps the file's name readable: ``<16 hex>-<safe name>``."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1] or "image"
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return f"{uuid.uuid4().hex[:16]}-{safe[-100:]}"


def is_upload_id(value: str) -> bool:
    return bool(_UPLOAD_ID.match(value))


def utc_now() -> str:
    """ISO-8601 UTC with microseconds, fixed width, so string order is time order."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def image_key(prediction_id: str, created_at: str, extension: str) -> str:
    return f"{IMAGES_PREFIX}{_day(created_at)}/{prediction_id}.{extension}"


def result_key(prediction_id: str, created_at: str) -> str:
    return f"{RESULTS_PREFIX}{_day(created_at)}/{prediction_id}.json"


def _day(created_at: str) -> str:
    return f"{created_at[0:4]}/{created_at[5:7]}/{created_at[8:10]}"


def expires_at(created_at: str, retention_days: int) -> int:
    """Epoch seconds ``retention_days`` after ``created_at`` (``utc_now()`` format)."""
    created = datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int((created + timedelta(days=retention_days)).timestamp())


def to_dynamodb(value: Any) -> Any:
    """Floats become Decimals (DynamoDB has no float type), recursively."""
    if isinstance(value, float):
        return Decimal(str(round(value, 6)))
    if isinstance(value, dict):
        return {k: to_dynamodb(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_dynamodb(v) for v in value]
    return value


def to_public(item: dict[str, Any]) -> dict[str, Any]:
    """A stored item as JSON-ready data for clients (Decimals to numbers, internal fields dropped)."""

    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value

    public = {k: plain(v) for k, v in item.items() if k not in ("feed", EXPIRES_AT)}
    if "number" in public:  # a result: "digit" is null for several digits (the item stores no nulls)
        public.setdefault("digit", None)
    return public


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    #: Opaque cursor for the next page; None at the end.
    cursor: str | None


@contextmanager
def _storage(operation: str) -> Iterator[None]:
    """Turn an AWS failure into StorageUnavailable (503) without exposing its text to clients."""
    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ConditionalCheckFailedException":
            raise
        raise StorageUnavailable(
            f"storage unavailable ({operation}); retry shortly", retry_after=RETRY_AFTER_S
        ) from exc
    except BotoCoreError as exc:
        raise StorageUnavailable(
            f"storage unavailable ({operation}); retry shortly", retry_after=RETRY_AFTER_S
        ) from exc


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


@dataclass(frozen=True)
class PredictionStore:
    """Predictions of one stage: write (succeeded / rejected / failed), read, list, feedback."""

    config: StageConfig

    @property
    def table(self) -> Any:
        return _dynamodb().Table(self.config.predictions_table)

    # -- writes -----------------------------------------------------------------------------------

    def save_succeeded(
        self,
        *,
        prediction_id: str,
        source: str,
        created_at: str,
        result: dict[str, Any],
        latency_ms: float,
        image: Image | None = None,
        source_key: str | None = None,
    ) -> dict[str, Any]:
        """Store a prediction: the image (API uploads only), its result JSON, then the item.

        Returns the stored record; for an inbox object already finished by an earlier delivery, that one.
        """
        item = self._base_item(prediction_id, source, "succeeded", created_at, source_key)
        item.update({name: result.get(name) for name in RESULT_FIELDS})
        item["latency_ms"] = latency_ms
        if image is not None:
            item["image_bucket"] = self.config.results_bucket
            item["image_key"] = image_key(prediction_id, created_at, image.extension)
        return self._put(item, write_result=True, image=image)

    def save_rejected(
        self, *, prediction_id: str, source: str, created_at: str, error: ServiceError, source_key: str | None = None
    ) -> dict[str, Any]:
        """Record an input the service or the model refused (not retried: it would fail again)."""
        item = self._base_item(prediction_id, source, "rejected", created_at, source_key)
        item.update(error_code=error.code, error_message=error.message)
        return self._put(item, write_result=True)

    def save_failed(
        self, *, prediction_id: str, source: str, created_at: str, error: ServiceError, source_key: str | None = None
    ) -> dict[str, Any]:
        """Record a failure of a dependency (retried by the caller; a later success replaces it)."""
        item = self._base_item(prediction_id, source, "failed", created_at, source_key)
        item.update(error_code=error.code, error_message=error.message)
        return self._put(item, write_result=False)

    def _base_item(
        self, prediction_id: str, source: str, status: str, created_at: str, source_key: str | None
    ) -> dict[str, Any]:
        item: dict[str, Any] = {
            "prediction_id": prediction_id,
            "feed": FEED,
            "source": source,
            "status": status,
            "created_at": created_at,
        }
        if source_key is not None:
            item.update(source_key=source_key, image_bucket=self.config.inbox_bucket, image_key=source_key)
        if self.config.retention_days is not None:
            item[EXPIRES_AT] = expires_at(created_at, self.config.retention_days)
        return item

    def _put(self, item: dict[str, Any], *, write_result: bool, image: Image | None = None) -> dict[str, Any]:
        """S3 objects first (image and result JSON at once: they are independent), then the item."""
        item = {k: v for k, v in to_dynamodb(item).items() if v is not None}
        objects = []
        if image is not None:
            objects.append((item["image_key"], image.data, image.content_type))
        if write_result:
            item["result_key"] = result_key(item["prediction_id"], item["created_at"])
            result = json.dumps(to_public(item), separators=(",", ":")).encode()
            objects.append((item["result_key"], result, "application/json"))
        with _storage("writing to the results bucket"):
            for done in [_uploads().submit(self._put_object, *obj) for obj in objects]:
                done.result()
        try:
            with _storage("writing the record"):
                self.table.put_item(
                    Item=item,
                    # A new record, or one that replaces a failed attempt; never a finished record.
                    ConditionExpression=Attr("prediction_id").not_exists() | Attr("status").eq("failed"),
                )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise
            existing = self.get(item["prediction_id"])
            if existing is None:  # deleted in between: nothing to protect, nothing to return
                raise StorageUnavailable("the record changed while it was written; retry", retry_after=1) from exc
            return existing
        return to_public(item)

    def _put_object(self, key: str, body: bytes, content_type: str) -> None:
        _s3().put_object(Bucket=self.config.results_bucket, Key=key, Body=body, ContentType=content_type)

    def add_feedback(self, prediction_id: str, label: int) -> dict[str, Any]:
        """Record the user's correction of a prediction; NotFound for an unknown id."""
        if not is_prediction_id(prediction_id):
            raise NotFound(f"no prediction {prediction_id!r}")
        try:
            with _storage("writing feedback"):
                response = self.table.update_item(
                    Key={"prediction_id": prediction_id},
                    UpdateExpression="SET feedback_label = :label, feedback_at = :at",
                    ConditionExpression=Attr("prediction_id").exists(),
                    ExpressionAttributeValues={":label": label, ":at": utc_now()},
                    ReturnValues="ALL_NEW",
                )
        except ClientError as exc:
            if _is_condition_failure(exc):
                raise NotFound(f"no prediction {prediction_id!r}") from exc
            raise
        return to_public(response["Attributes"])

    # -- reads ------------------------------------------------------------------------------------

    def inbox_object_size(self, key: str, version_id: str | None) -> int | None:
        """Size of an inbox object (HEAD: nothing downloaded); None when it no longer exists."""
        try:
            with _storage("reading the inbox object"):
                head = _s3().head_object(Bucket=self.config.inbox_bucket, Key=key, **_version(version_id))
        except StorageUnavailable as exc:
            if _is_missing(exc.__cause__):
                return None
            raise
        return int(head["ContentLength"])

    def read_inbox_object(self, key: str, version_id: str | None) -> bytes | None:
        """The bytes of an inbox object; None when it no longer exists."""
        try:
            with _storage("reading the inbox object"):
                response = _s3().get_object(Bucket=self.config.inbox_bucket, Key=key, **_version(version_id))
                return response["Body"].read()
        except StorageUnavailable as exc:
            if _is_missing(exc.__cause__):
                return None
            raise

    def upload_key(self, upload_id: str) -> str:
        """The inbox key of an upload id (:func:`new_upload_id`): ``inbox/uploads/<upload_id>``."""
        return f"{self.config.inbox_prefix}{UPLOADS_FOLDER}{upload_id}"

    def upload_form(self, upload_id: str, content_type: str | None = None) -> dict[str, Any]:
        """A presigned POST form that puts one image under :meth:`upload_key` in the inbox bucket.

        ``{"url", "fields"}``: send ``fields`` and then the file (field ``file``) as ``multipart/form-data``
        to ``url`` within :data:`PRESIGNED_TTL_S` seconds. S3 itself refuses an empty file or one over
        :data:`~chalicelib.media.MAX_IMAGE_BYTES` (``EntityTooSmall``/``EntityTooLarge``).
        """
        fields = {"Content-Type": content_type} if content_type else {}
        conditions: list[Any] = [["content-length-range", 1, MAX_IMAGE_BYTES], *({k: v} for k, v in fields.items())]
        with _storage("signing the upload form"):
            try:
                form = _presigner().generate_presigned_post(
                    self.config.inbox_bucket,
                    self.upload_key(upload_id),
                    Fields=fields,
                    Conditions=conditions,
                    ExpiresIn=PRESIGNED_TTL_S,
                )
            except AttributeError as exc:  # botocore signs a POST policy with no credentials this way
                raise NoCredentialsError() from exc
        return {"url": form["url"], "fields": form["fields"]}

    def inbox_version(self, key: str) -> str | None:
        """What tells this inbox object's upload apart (``versionId``, else the ETag, as in S3 events);
        None when there is no such object."""
        try:
            with _storage("reading the inbox object"):
                head = _s3().head_object(Bucket=self.config.inbox_bucket, Key=key)
        except StorageUnavailable as exc:
            if _is_missing(exc.__cause__):
                return None
            raise
        return head.get("VersionId") or head["ETag"].strip('"')

    def image_url(self, record: dict[str, Any]) -> str | None:
        """A presigned GET URL of the record's stored image, valid :data:`PRESIGNED_TTL_S` seconds; None
        when the record has no image (the image may also have expired since: S3 then answers 404)."""
        if not record.get("image_key"):
            return None
        with _storage("signing the image URL"):
            return _presigner().generate_presigned_url(
                "get_object",
                Params={"Bucket": record["image_bucket"], "Key": record["image_key"]},
                ExpiresIn=PRESIGNED_TTL_S,
            )

    def get(self, prediction_id: str) -> dict[str, Any] | None:
        if not is_prediction_id(prediction_id):
            return None
        with _storage("reading the record"):
            item = self.table.get_item(Key={"prediction_id": prediction_id}, ConsistentRead=True).get("Item")
        return to_public(item) if item else None

    def list(
        self,
        *,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
        source: str | None = None,
        digit: int | None = None,
        status: str | None = None,
        corrected: bool | None = None,
        source_key: str | None = None,
    ) -> Page:
        """Newest first, ``limit`` at most, optionally of one source / digit / status / correction state,
        or of one inbox key.

        ``source`` picks the ``by-source`` index; ``digit``, ``status`` and ``corrected`` are filters, so the
        query keeps reading pages until ``limit`` items matched, the index ends, or :data:`MAX_QUERY_PAGES`
        were read. ``corrected=True``: a ``feedback_label`` other than the predicted digit (every label of a
        several-digit record); ``False``: the others. ``source_key``: the records of that inbox key (one
        per version uploaded), a filter on the ``s3`` source, newest first (the one just uploaded is read
        first).
        The cursor is None when nothing more matches (one item beyond ``limit`` is looked for, so a full
        last page gets no cursor), except when the read budget ran out first.
        Raises BadRequest for an argument out of range or a cursor of another listing.
        """
        _check_list_arguments(limit, source, digit, status, source_key)
        source = "s3" if source_key is not None else source
        partition = ("source", source) if source else ("feed", FEED)
        start_key = decode_cursor(cursor, partition) if cursor else None
        query = _listing_query(partition, digit, status, corrected, source_key)
        return self._read_newest(query, limit, partition[0], start_key)

    def _read_newest(
        self, query: dict[str, Any], limit: int, partition_key: str, start_key: dict[str, Any] | None
    ) -> Page:
        """Run ``query`` page after page until ``limit`` + 1 items matched, the index ends, or the budget is spent."""
        filtered = "FilterExpression" in query
        items: list[dict[str, Any]] = []
        for _ in range(MAX_QUERY_PAGES):
            wanted = limit + 1 - len(items)
            # Unfiltered: read exactly what is wanted. Filtered: read ahead, most items may not match.
            query["Limit"] = max(wanted, 50) if filtered else wanted
            if start_key:
                query["ExclusiveStartKey"] = start_key
            with _storage("listing records"):
                response = self.table.query(**query)
            items += response.get("Items", [])
            start_key = response.get("LastEvaluatedKey")
            if len(items) > limit:
                last = items[limit - 1]
                next_key = {name: last[name] for name in ("prediction_id", "created_at", partition_key)}
                return Page([to_public(i) for i in items[:limit]], encode_cursor(next_key))
            if start_key is None:
                return Page([to_public(i) for i in items], None)
        # Budget spent before the page was full: resume where reading stopped (that page may be empty).
        return Page([to_public(i) for i in items], encode_cursor(start_key))

    def daily_counts(self, days: int) -> list[dict[str, Any]]:
        """Predictions per UTC day over the last ``days`` days (today included), oldest first:
        ``[{"date": "2026-11-30", "api": 3, "s3": 1, "total": 4}, ...]``.

        One Query per source on the ``by-source`` index (``created_at`` from the first day's midnight),
        reading only ``created_at``; never a Scan. Raises BadRequest unless 1 <= days <= :data:`MAX_STATS_DAYS`.
        """
        if not 1 <= days <= MAX_STATS_DAYS:
            raise BadRequest(f"days must be between 1 and {MAX_STATS_DAYS}", code="invalid_parameter")
        today = datetime.now(UTC).date()
        counts = {(today - timedelta(days=n)).isoformat(): dict.fromkeys(SOURCES, 0) for n in range(days - 1, -1, -1)}
        since = f"{min(counts)}T00:00:00.000000Z"
        for source in SOURCES:
            query = {
                "IndexName": SOURCE_INDEX,
                "KeyConditionExpression": Key("source").eq(source) & Key("created_at").gte(since),
                "ProjectionExpression": "created_at",
            }
            for item in self._query_all(query):
                day = counts.get(item["created_at"][:10])
                if day is not None:  # a clock ahead of ours could write tomorrow's date
                    day[source] += 1
        return [{"date": date, **day, "total": sum(day.values())} for date, day in counts.items()]

    def _query_all(self, query: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item ``query`` matches, page after page."""
        while True:
            with _storage("counting records"):
                response = self.table.query(**query)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            query = {**query, "ExclusiveStartKey": response["LastEvaluatedKey"]}

    def with_feedback(self) -> Iterator[dict[str, Any]]:
        """Every record that carries a ``feedback_label``, newest first: all pages of a Query on the
        ``by-time`` index filtered on the label (never a Scan). For exports, not for requests."""
        query: dict[str, Any] = {
            "IndexName": FEED_INDEX,
            "KeyConditionExpression": Key("feed").eq(FEED),
            "FilterExpression": Attr("feedback_label").exists(),
            "ScanIndexForward": False,
        }
        yield from (to_public(item) for item in self._query_all(query))

    def ping(self) -> None:
        """A cheap real read (GetItem of a key that never exists): the table answers with our permissions."""
        with _storage("reading the table"):
            self.table.get_item(Key={"prediction_id": "health-check"})

    def ping_bucket(self, bucket: str) -> None:
        """HeadBucket: the bucket exists and answers with our permissions (``s3:ListBucket``)."""
        with _storage("reading the bucket"):
            _s3().head_bucket(Bucket=bucket)


def _check_list_arguments(
    limit: int, source: str | None, digit: int | None, status: str | None, source_key: str | None = None
) -> None:
    if source_key is not None and (source not in (None, "s3") or not 0 < len(source_key.encode()) <= MAX_KEY_BYTES):
        raise BadRequest(f"source_key is an inbox key (source s3), 1-{MAX_KEY_BYTES} bytes", code="invalid_parameter")
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise BadRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}", code="invalid_parameter")
    if source is not None and source not in SOURCES:
        raise BadRequest(f"source must be one of {', '.join(SOURCES)}", code="invalid_parameter")
    if digit is not None and not 0 <= digit <= 9:
        raise BadRequest("digit must be between 0 and 9", code="invalid_parameter")
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}", code="invalid_parameter")


def _listing_query(
    partition: tuple[str, str],
    digit: int | None,
    status: str | None,
    corrected: bool | None = None,
    source_key: str | None = None,
) -> dict[str, Any]:
    """The Query of one listing, newest first: the index of ``partition`` and the filters as one expression."""
    name, value = partition
    query: dict[str, Any] = {
        "IndexName": SOURCE_INDEX if name == "source" else FEED_INDEX,
        "KeyConditionExpression": Key(name).eq(value),
        "ScanIndexForward": False,
    }
    wanted = (("digit", digit), ("status", status), ("source_key", source_key))
    filters = [Attr(attr).eq(value) for attr, value in wanted if value is not None]
    if corrected is not None:
        filters.append(CORRECTED if corrected else ~CORRECTED)
    if filters:
        query["FilterExpression"] = reduce(operator.and_, filters)
    return query


def encode_cursor(key: dict[str, Any]) -> str:
    raw = json.dumps({k: str(v) for k, v in sorted(key.items())}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, partition: tuple[str, str]) -> dict[str, str]:
    """The DynamoDB start key in ``cursor``, checked to belong to this listing (index and partition)."""
    invalid = BadRequest("the cursor is not valid for this listing; start again without it", code="invalid_cursor")
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        raise invalid from None
    name, value = partition
    if (
        not isinstance(key, dict)
        or set(key) != {"prediction_id", "created_at", name}
        or key[name] != value
        or not is_prediction_id(str(key["prediction_id"]))
        or not _TIMESTAMP.match(str(key["created_at"]))
    ):
        raise invalid
    return key


def _version(version_id: str | None) -> dict[str, str]:
    return {"VersionId": version_id} if version_id else {}


def _is_missing(exc: BaseException | None) -> bool:
    missing = ("404", "NoSuchKey", "NoSuchVersion", "NotFound")
    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in missing

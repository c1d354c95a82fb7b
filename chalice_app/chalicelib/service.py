"""The two ways a prediction is made, shared by the routes and the S3 trigger (``app.py`` stays thin).

* :meth:`PredictionService.predict_upload` (``POST /predict``): validate, ask the endpoint, store, return
  the record. Bad input and dependency failures raise a :class:`~chalicelib.errors.ServiceError`
  and change nothing: the client still has its image and gets a precise error (503s say when to retry).
* :meth:`PredictionService.process_inbox_event` (the S3 trigger): each object version is processed once.
  Powertools Idempotency (DynamoDB idempotency table) absorbs redeliveries and concurrent duplicates
  within its window; the id derived from bucket, key and version makes any later redelivery find the
  finished record instead of creating a second one. An image the service or the model refuses is
  recorded as ``rejected`` (never retried); any other failure is recorded as ``failed`` where possible
  and raised again, so Lambda (or the local bridge) retries it; a later success replaces that record.

Clients reach the inbox through the API too: :meth:`PredictionService.new_upload` (``POST /uploads``)
hands out a presigned form for one new inbox key, :meth:`PredictionService.upload_status`
(``GET /uploads/{upload_id}``) names the record that upload becomes and returns it once it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from chalicelib import contract
from chalicelib.config import StageConfig
from chalicelib.endpoint_client import EndpointClient
from chalicelib.errors import ImageRejected, NotFound, ServiceError
from chalicelib.media import accept_image, check_size
from chalicelib.observability import capture, logger, record_prediction
from chalicelib.store import (
    PRESIGNED_TTL_S,
    PredictionStore,
    inbox_prediction_id,
    is_upload_id,
    new_prediction_id,
    new_upload_id,
    utc_now,
)

#: How long a processed inbox object is remembered by Powertools Idempotency (the deterministic id
#: keeps protecting it afterwards).
IDEMPOTENCY_WINDOW_S = 24 * 3600


def refused(exc: ServiceError) -> bool:
    """A 4xx: the input itself is refused (by the service or the model); retrying cannot help. A 5xx is a
    failure of a dependency or of the model, worth retrying."""
    return exc.status < 500


@dataclass(frozen=True)
class InboxObject:
    """One object version named by an S3 ObjectCreated record."""

    bucket: str
    key: str
    #: ``versionId`` in a versioned bucket, else the ETag: what makes this upload distinct.
    version: str
    version_id: str | None = None

    @classmethod
    def from_record(cls, record: S3EventRecord) -> InboxObject:
        obj = record.s3.get_object
        return cls(
            bucket=record.s3.bucket.name,
            key=unquote_plus(obj.key),  # S3 URL-encodes keys in events ('+' is a space)
            version=obj.version_id or obj.etag or obj.get("sequencer", ""),
            version_id=obj.version_id,
        )

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def prediction_id(self) -> str:
        return inbox_prediction_id(self.bucket, self.key, self.version)


@dataclass
class PredictionService:
    config: StageConfig

    @cached_property
    def store(self) -> PredictionStore:
        return PredictionStore(self.config)

    @cached_property
    def endpoint(self) -> EndpointClient:
        return EndpointClient(self.config.endpoint_name)

    # -- API --------------------------------------------------------------------------------------

    @capture
    def predict_upload(self, body: bytes | None, holder: str = "api") -> dict[str, Any]:
        """Predict the digit(s) in an uploaded image and store the result; returns the record. ``holder``:
        where the bytes came from, for a refusal's wording (:data:`chalicelib.media.HOLDER`)."""
        image = accept_image(body, holder)
        created_at = utc_now()
        try:
            prediction = self.endpoint.predict(image.data, image.content_type)
        except ServiceError as exc:
            record_prediction("api", "rejected" if refused(exc) else "failed")
            raise
        record = self.store.save_succeeded(
            prediction_id=new_prediction_id(),
            source="api",
            created_at=created_at,
            result=prediction.result,
            latency_ms=prediction.latency_ms,
            image=image,
        )
        record_prediction("api", "succeeded", prediction.latency_ms, prediction.result.get("confidence"))
        return record

    def new_upload(self, filename: str | None = None, content_type: str | None = None) -> dict[str, Any]:
        """A presigned form for one new inbox object (``POST /uploads``).

        ``{"upload_id", "key", "url", "fields", "max_bytes", "expires_in"}``. ``content_type`` (optional) is
        what S3 stores with the object, one of :data:`~chalicelib.contract.IMAGE_CONTENT_TYPES` (aliases
        resolved); anything else is ``unsupported_media_type`` (415). The image itself is judged from its
        bytes by the S3 trigger, as on every path.
        """
        if content_type is not None:
            content_type = contract.media_type(content_type)
            if content_type not in contract.IMAGE_CONTENT_TYPES:
                raise ImageRejected(
                    f"content_type must be one of {', '.join(contract.IMAGE_TYPES)} or application/octet-stream",
                    code="unsupported_media_type",
                )
        upload_id = new_upload_id(filename)
        form = self.store.upload_form(upload_id, content_type)
        return {
            "upload_id": upload_id,
            "key": self.store.upload_key(upload_id),
            **form,
            "max_bytes": contract.MAX_IMAGE_BYTES,
            "expires_in": PRESIGNED_TTL_S,
        }

    def upload_status(self, upload_id: str) -> dict[str, Any]:
        """What became of an upload (``GET /uploads/{upload_id}``): ``{"upload_id", "key", "prediction_id",
        "prediction"}``, ``prediction`` being None until the S3 trigger has recorded it (a ``failed`` one is
        retried). NotFound when nothing was uploaded under that id."""
        key = self.store.upload_key(upload_id) if is_upload_id(upload_id) else None
        version = self.store.inbox_version(key) if key else None
        if version is None:
            raise NotFound(f"nothing has been uploaded as {upload_id!r}")
        prediction_id = inbox_prediction_id(self.config.inbox_bucket, key, version)
        record = self.store.get(prediction_id)
        return {"upload_id": upload_id, "key": key, "prediction_id": prediction_id, "prediction": record}

    def image_url(self, prediction_id: str) -> dict[str, Any]:
        """A presigned URL of a prediction's stored image (``GET /predictions/{id}/image``):
        ``{"prediction_id", "url", "expires_in"}``. NotFound for an unknown id or a record without image."""
        record = self.store.get(prediction_id)
        if record is None:
            raise NotFound(f"no prediction {prediction_id!r}")
        url = self.store.image_url(record)
        if url is None:
            raise NotFound(f"prediction {prediction_id!r} has no stored image")
        return {"prediction_id": prediction_id, "url": url, "expires_in": PRESIGNED_TTL_S}

    # -- S3 trigger -------------------------------------------------------------------------------

    def process_inbox_event(self, event: dict[str, Any], lambda_context: Any = None) -> list[dict[str, Any]]:
        """Process every record of an S3 ObjectCreated event; returns ``{prediction_id, status}`` each."""
        if lambda_context is not None:
            self._idempotency_config.register_lambda_context(lambda_context)
        results = []
        for record in S3Event(event).records:
            obj = InboxObject.from_record(record)
            if obj.bucket != self.config.inbox_bucket or not obj.key.startswith(self.config.inbox_prefix):
                logger.warning("ignoring an object outside the inbox", extra={"object": obj.uri})
                continue
            logger.thread_safe_append_keys(correlation_id=obj.uri)
            try:
                results.append(self._process_once(obj=vars(obj)))
            finally:
                logger.thread_safe_remove_keys(["correlation_id"])
        return results

    @cached_property
    def _idempotency_config(self) -> IdempotencyConfig:
        return IdempotencyConfig(
            event_key_jmespath="[bucket, key, version]",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=IDEMPOTENCY_WINDOW_S,
        )

    @cached_property
    def _process_once(self) -> Any:
        """:meth:`_process` behind Powertools Idempotency (built on first use: it creates a boto3 client)."""
        persistence = DynamoDBPersistenceLayer(table_name=self.config.idempotency_table)
        return idempotent_function(
            data_keyword_argument="obj", persistence_store=persistence, config=self._idempotency_config
        )(self._process)

    @capture
    def _process(self, obj: dict[str, Any]) -> dict[str, Any]:
        inbox = InboxObject(**obj)
        prediction_id = inbox.prediction_id
        existing = self.store.get(prediction_id)
        if existing and existing["status"] != "failed":
            logger.info("already processed", extra={"prediction_id": prediction_id, "status": existing["status"]})
            return {"prediction_id": prediction_id, "status": existing["status"]}
        common = {"prediction_id": prediction_id, "source": "s3", "created_at": utc_now(), "source_key": inbox.key}
        try:
            size = self.store.inbox_object_size(inbox.key, inbox.version_id)  # HEAD: size cap before reading
            if size is not None:
                check_size(size, "s3")
                data = self.store.read_inbox_object(inbox.key, inbox.version_id)
            if size is None or data is None:
                raise ImageRejected("the object was deleted before it was read", code="object_not_found", status=404)
            image = accept_image(data, "s3")
            prediction = self.endpoint.predict(image.data, image.content_type)
        except ServiceError as exc:
            if not refused(exc):
                self._record_failure(exc, common)
                raise
            record = self.store.save_rejected(error=exc, **common)
            logger.info("rejected", extra={"prediction_id": prediction_id, "code": exc.code})
            record_prediction("s3", "rejected")
            return {"prediction_id": prediction_id, "status": record["status"]}
        try:
            record = self.store.save_succeeded(result=prediction.result, latency_ms=prediction.latency_ms, **common)
        except ServiceError as exc:
            self._record_failure(exc, common)
            raise
        logger.info("predicted", extra={"prediction_id": prediction_id, "number": record.get("number")})
        record_prediction("s3", "succeeded", prediction.latency_ms, prediction.result.get("confidence"))
        return {"prediction_id": prediction_id, "status": record["status"]}

    def _record_failure(self, exc: ServiceError, common: dict[str, Any]) -> None:
        """Leave a ``failed`` record for the UI (best effort: storage may be what failed)."""
        logger.warning("failed; the event will be retried", extra={"code": exc.code, **common})
        record_prediction("s3", "failed")
        try:
            self.store.save_failed(error=exc, **common)
        except ServiceError:
            logger.exception("could not record the failure either")

"""Export a stage's corrected and confirmed predictions, with their stored images, into the channel.

Records are read from DynamoDB with :meth:`chalicelib.store.PredictionStore.with_feedback` (a Query on
the ``by-time`` index filtered on ``feedback_label``, never a Scan), and images with S3 GetObject: the
same store module as the API, straight from the tables and buckets, because an export wants every
record (the API pages, caps a filtered read at a few DynamoDB pages per request and, on AWS stages,
sits behind IAM auth and throttling meant for clients) and runs where training runs, with AWS credentials.
boto3 reaches the emulator or AWS as the environment says (``AWS_ENDPOINT_URL``).

What is exported: records that succeeded with exactly one digit (``digit`` set, a 28x28 ``model_input``)
and carry a ``feedback_label``; ``corrected`` when the label differs from ``digit``, ``confirmed`` when
the user confirmed it (the label equals ``digit``: the UI and the API accept the right digit as feedback).
Several-digit records are skipped (one label cannot say which digit was wrong). A record whose stored
image is gone (deleted, expired) is skipped and counted. A record already in the manifest with the same
label is not exported again; one whose label changed since is relabelled in place (same split).
With no corrections at all, nothing is written.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chalicelib.store import PredictionStore
from training.feedback.channel import (
    MODEL_INPUT_DIR,
    UPLOADS_DIR,
    Example,
    png_pixels,
    read_manifest,
    write_manifest,
)

#: Share of the examples held out of training for the gate.
DEFAULT_HOLDOUT = 0.25
_MISSING = ("404", "NoSuchKey", "NoSuchBucket", "NotFound")


@cache
def _s3() -> Any:
    return boto3.client("s3")


@dataclass
class ExportReport:
    channel: str
    #: Records with a ``feedback_label`` that the query returned.
    with_feedback: int = 0
    added: Counter[str] = field(default_factory=Counter)  # kind -> examples added
    relabelled: int = 0
    unchanged: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> records
    total: Counter[str] = field(default_factory=Counter)  # split -> examples in the channel afterwards
    message: str = ""

    @property
    def changed(self) -> bool:
        return bool(sum(self.added.values()) or self.relabelled)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "with_feedback": self.with_feedback,
            "added": dict(self.added),
            "relabelled": self.relabelled,
            "unchanged": self.unchanged,
            "skipped": dict(self.skipped),
            "examples": dict(self.total),
            "message": self.message,
        }


def _usable(record: dict[str, Any]) -> str | None:
    """Why ``record`` cannot become an example, or None."""
    if record.get("status") != "succeeded":
        return "not_succeeded"
    if record.get("digit") is None:
        return "several_digits"
    if not record.get("model_input") or not record.get("image_key"):
        return "no_image"
    return None


def _model_input(record: dict[str, Any]) -> bytes | None:
    """The record's 28x28 model input PNG, or None when it is not one digit's image."""
    try:
        data = base64.b64decode(record["model_input"], validate=True)
        return data if png_pixels(data).shape == (28, 28) else None
    except (binascii.Error, ValueError, OSError):
        return None


def _stored_image(record: dict[str, Any]) -> bytes | None:
    """The uploaded image from S3; None when it is gone."""
    try:
        return _s3().get_object(Bucket=record["image_bucket"], Key=record["image_key"])["Body"].read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in _MISSING:
            return None
        raise


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def export(store: PredictionStore, channel: Path, holdout: float = DEFAULT_HOLDOUT) -> ExportReport:
    """Add the stage's new feedback to ``channel`` (created when needed); see the module docstring."""
    if not 0 < holdout < 1:
        raise ValueError("holdout must be between 0 and 1")
    report = ExportReport(str(channel))
    records = list(store.with_feedback())
    report.with_feedback = len(records)
    if not any(int(r["feedback_label"]) != r.get("digit") for r in records):
        report.message = f"no corrections in {store.config.predictions_table}: nothing exported, nothing changed"
        return report

    examples = {e.prediction_id: e for e in read_manifest(channel)}
    staged: list[tuple[Example, bytes, bytes]] = []
    # Oldest feedback first: the split assignment below then does not depend on when export runs.
    for record in sorted(records, key=lambda r: (r["feedback_at"], r["prediction_id"])):
        label, known = int(record["feedback_label"]), examples.get(record["prediction_id"])
        if known is not None:
            if known.label == label:
                report.unchanged += 1
            else:
                kind = "confirmed" if label == known.predicted else "corrected"
                examples[known.prediction_id] = replace(
                    known, label=label, kind=kind, feedback_at=record["feedback_at"]
                )
                report.relabelled += 1
            continue
        reason = _usable(record)
        seen = _model_input(record) if reason is None else None
        if reason is None and seen is None:
            reason = "no_image"
        upload = _stored_image(record) if reason is None else None
        if reason is None and upload is None:
            reason = "image_missing"
        if reason is not None:
            report.skipped[reason] += 1
            continue
        prediction_id, extension = record["prediction_id"], Path(record["image_key"]).suffix or ".bin"
        holdouts = sum(e.split == "holdout" for e in examples.values())
        split = "holdout" if holdouts < holdout * (len(examples) + 1) else "train"
        example = Example(
            prediction_id=prediction_id,
            label=label,
            predicted=int(record["digit"]),
            kind="confirmed" if label == int(record["digit"]) else "corrected",
            split=split,
            source=record["source"],
            created_at=record["created_at"],
            feedback_at=record["feedback_at"],
            model_version=record.get("model_version"),
            model_input=f"{MODEL_INPUT_DIR}/{prediction_id}.png",
            upload=f"{UPLOADS_DIR}/{prediction_id}{extension}",
        )
        examples[prediction_id] = example
        staged.append((example, seen, upload))  # type: ignore[arg-type]
        report.added[example.kind] += 1

    if report.changed:
        # Images first, the manifest last: an interrupted export leaves the old manifest, and a rerun
        # writes the same files again.
        for example, seen, upload in staged:
            _write(channel / example.model_input, seen)
            _write(channel / example.upload, upload)
        write_manifest(channel, list(examples.values()))
    report.total.update(e.split for e in examples.values())
    added = sum(report.added.values())
    report.message = (
        f"{added} new example(s) ({dict(report.added) or 'none'}), {report.relabelled} relabelled, "
        f"{report.unchanged} already exported, {sum(report.skipped.values())} skipped {dict(report.skipped)}"
    )
    return report


def upload_channel(channel: Path, s3_uri: str) -> int:
    """Copy the channel's files that are not yet under ``s3_uri`` there, the manifest last; the number copied."""
    if not s3_uri.startswith("s3://") or "/" not in s3_uri[5:]:
        raise ValueError(f"expected s3://BUCKET/PREFIX/, got {s3_uri!r}")
    bucket, _, prefix = s3_uri[5:].partition("/")
    prefix = prefix.rstrip("/") + "/"
    existing: set[str] = set()
    for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        existing.update(obj["Key"] for obj in page.get("Contents", []))
    files = sorted(p for p in channel.rglob("*") if p.is_file() and not p.name.endswith(".tmp"))
    copied = 0
    for path in [p for p in files if p.name != "manifest.jsonl"] + [channel / "manifest.jsonl"]:
        key = prefix + path.relative_to(channel).as_posix()
        if key in existing and path.name != "manifest.jsonl":
            continue
        _s3().upload_file(str(path), bucket, key)
        copied += 1
    return copied

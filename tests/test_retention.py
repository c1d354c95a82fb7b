"""Retention against the emulator: lifecycle rules on both buckets, TTL on records, per stage setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib.config import StageConfig, load
from chalicelib.errors import ServiceError
from chalicelib.store import PredictionStore, new_prediction_id, utc_now
from ops.provision import provision
from ops.retention import RULE_PREFIX

pytestmark = pytest.mark.integration


def expiry_rules(bucket: str) -> dict[str, tuple[str, int]]:
    """Our rules on ``bucket``: id -> (prefix, days)."""
    rules = boto3.client("s3").get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    return {r["ID"]: (r["Filter"]["Prefix"], r["Expiration"]["Days"]) for r in rules if r["ID"].startswith(RULE_PREFIX)}


def ttl(table: str) -> dict:
    return boto3.client("dynamodb").describe_time_to_live(TableName=table)["TimeToLiveDescription"]


def test_provisioning_expires_stored_images_results_and_records(aws: StageConfig):
    days = aws.retention_days
    assert days == 30
    assert expiry_rules(aws.inbox_bucket) == {"digits-expire-inbox": ("inbox/", days)}
    assert expiry_rules(aws.results_bucket) == {
        "digits-expire-images": ("images/", days),
        "digits-expire-results": ("results/", days),
    }
    assert ttl(aws.predictions_table) == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


def test_changing_retention_days_updates_the_rules_and_keeps_the_owners_rules(aws: StageConfig):
    s3 = boto3.client("s3")
    rules = s3.get_bucket_lifecycle_configuration(Bucket=aws.results_bucket)["Rules"]
    own = {"ID": "owners-rule", "Filter": {"Prefix": "exports/"}, "Status": "Enabled", "Expiration": {"Days": 400}}
    s3.put_bucket_lifecycle_configuration(Bucket=aws.results_bucket, LifecycleConfiguration={"Rules": [*rules, own]})

    week = load("local", environ={"DIGITS_RETENTION_DAYS": "7"})
    assert "retention: 7 days" in provision(week).created
    assert set(expiry_rules(aws.results_bucket).values()) == {("images/", 7), ("results/", 7)}
    assert "retention: 7 days" in provision(week).existed  # idempotent

    forever = load("local", environ={"DIGITS_RETENTION_DAYS": "null"})
    assert "retention: kept forever" in provision(forever).created
    left = s3.get_bucket_lifecycle_configuration(Bucket=aws.results_bucket)["Rules"]
    assert [r["ID"] for r in left] == ["owners-rule"]
    assert "ENABLED" not in ttl(aws.predictions_table).get("TimeToLiveStatus", "")


def test_records_carry_their_expiry_and_clients_never_see_it(aws: StageConfig):
    store = PredictionStore(aws)
    prediction_id, created_at = new_prediction_id(), utc_now()
    record = store.save_rejected(
        prediction_id=prediction_id, source="api", created_at=created_at, error=ServiceError("no", code="corrupt_image")
    )
    item = boto3.resource("dynamodb").Table(aws.predictions_table).get_item(Key={"prediction_id": prediction_id})
    created = datetime.strptime(created_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert int(item["Item"]["expires_at"]) == int((created + timedelta(days=aws.retention_days)).timestamp())
    assert "expires_at" not in record and "expires_at" not in store.get(prediction_id)
    body = boto3.client("s3").get_object(Bucket=aws.results_bucket, Key=record["result_key"])["Body"].read()
    assert b"expires_at" not in body


def test_without_retention_records_have_no_expiry(aws: StageConfig):
    store = PredictionStore(load("local", environ={"DIGITS_RETENTION_DAYS": "null"}))
    prediction_id = new_prediction_id()
    store.save_failed(prediction_id=prediction_id, source="api", created_at=utc_now(), error=ServiceError("down"))
    item = boto3.resource("dynamodb").Table(aws.predictions_table).get_item(Key={"prediction_id": prediction_id})
    assert "expires_at" not in item["Item"]

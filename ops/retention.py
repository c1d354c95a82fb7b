"""How long stored images, results and records are kept: the stage's ``retention_days``, applied by provisioning.

* S3 lifecycle rules (one per key prefix, ids ``digits-expire-<prefix>``): objects under the inbox bucket's
  ``inbox/`` and the results bucket's ``images/`` and ``results/`` expire ``retention_days`` after they
  were written; noncurrent versions (should versioning be switched on) one day after they were replaced;
  incomplete multipart uploads after one day. Rules with other ids are left as they are.
* DynamoDB TTL on the predictions table's ``expires_at`` (written on every record by
  :mod:`chalicelib.store`): DynamoDB deletes an expired record in the background, usually within a few
  days of its expiry.

``retention_days: null`` keeps everything: our rules are removed and TTL is switched off. Records written
while it was null carry no ``expires_at`` and stay until deleted by hand.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.config import StageConfig
from chalicelib.store import EXPIRES_AT, IMAGES_PREFIX, RESULTS_PREFIX

RULE_PREFIX = "digits-expire-"


def rule_id(prefix: str) -> str:
    return RULE_PREFIX + prefix.strip("/")


def lifecycle_rules(prefixes: list[str], days: int) -> list[dict[str, Any]]:
    """S3 lifecycle rules that expire every object under ``prefixes`` ``days`` after it was written."""
    return [
        {
            "ID": rule_id(prefix),
            "Filter": {"Prefix": prefix},
            "Status": "Enabled",
            "Expiration": {"Days": days},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
        for prefix in prefixes
    ]


def bucket_prefixes(config: StageConfig) -> dict[str, list[str]]:
    """What each bucket of the stage stores, by key prefix."""
    return {config.inbox_bucket: [config.inbox_prefix], config.results_bucket: [IMAGES_PREFIX, RESULTS_PREFIX]}


def ensure_bucket_expiry(s3: Any, bucket: str, prefixes: list[str], days: int | None) -> bool:
    """Put our expiry rules on ``bucket`` (none when ``days`` is None), keeping other rules; True when changed."""
    try:
        existing = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
            raise
        existing = []
    others = [rule for rule in existing if not rule.get("ID", "").startswith(RULE_PREFIX)]
    ours = lifecycle_rules(prefixes, days) if days is not None else []
    if _canonical(existing) == _canonical(others + ours):
        return False
    if others + ours:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": others + ours})
    else:
        s3.delete_bucket_lifecycle(Bucket=bucket)
    return True


def _canonical(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rules as comparable data: S3 may add defaults (an empty ``Filter`` key order, ``Prefix`` fields)."""
    keep = ("ID", "Filter", "Status", "Expiration", "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload")
    return sorted(({k: rule[k] for k in keep if k in rule} for rule in rules), key=lambda r: r.get("ID", ""))


def ensure_record_ttl(ddb: Any, table: str, enabled: bool) -> bool:
    """TTL on ``expires_at`` of ``table`` on or off; True when changed (AWS refuses a no-op change)."""
    current = ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    is_on = current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and current.get("AttributeName") == EXPIRES_AT
    if is_on == enabled:
        return False
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": enabled, "AttributeName": EXPIRES_AT})
    return True


def ensure_retention(s3: Any, ddb: Any, config: StageConfig) -> bool:
    """Apply the stage's ``retention_days`` to both buckets and the predictions table; True when anything changed."""
    changed = [
        ensure_bucket_expiry(s3, bucket, prefixes, config.retention_days)
        for bucket, prefixes in bucket_prefixes(config).items()
    ]
    changed.append(ensure_record_ttl(ddb, config.predictions_table, config.retention_days is not None))
    return any(changed)

"""Create the stage's AWS resources, idempotently, against the emulator or real AWS.

``python -m ops.provision [--stage local]`` creates what is missing and reports what already existed:

* the inbox and results buckets: private (all public access blocked) and encrypted (SSE-S3);
* the predictions table (on-demand). Keys: ``prediction_id`` for lookups by id; GSI ``by-time``
  (``feed`` = ``"all"``, ``created_at``) lists the newest predictions, GSI ``by-source`` (``source``,
  ``created_at``) the newest of one source, both with a Query, never a Scan;
* the idempotency table that Powertools Idempotency uses (key ``id``, TTL on ``expiration``);
* retention (the stage's ``retention_days``): S3 lifecycle expiry of stored images and results, DynamoDB
  TTL of records (:mod:`ops.retention`);
* the inbox dead-letter queue (SQS, encrypted, messages kept 14 days): the deployed S3 function's
  on-failure destination, wired by ``python -m ops.deploy``, replayed by ``python -m ops.redrive``;
* local stage only: the SQS queue (with a dead-letter queue) that receives the inbox bucket's
  ObjectCreated notifications, which the event bridge turns into Lambda S3 events. In AWS, ``chalice
  deploy`` wires the bucket notification to the Lambda itself;
* (command line only) the stage's IAM policy file for ``chalice deploy``, written for its region and
  account (:mod:`ops.policies`), after checking that the AWS credentials are for the stage's ``account_id``.

boto3 reaches the emulator through ``AWS_ENDPOINT_URL`` (set by ``make up`` and the tests).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field

import boto3
from botocore.exceptions import ClientError

from chalicelib.config import StageConfig, load
from ops.errors import OpsError
from ops.policies import check_account, policy_path
from ops.policies import write as write_policy
from ops.retention import ensure_retention

FEED_INDEX = "by-time"
SOURCE_INDEX = "by-source"
BRIDGE_NOTIFICATION = "inbox-to-bridge"


@dataclass
class Report:
    """What provisioning created and what already existed."""

    created: list[str] = field(default_factory=list)
    existed: list[str] = field(default_factory=list)

    def add(self, name: str, created: bool) -> None:
        (self.created if created else self.existed).append(name)


def _error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def ensure_bucket(s3, name: str, region: str) -> bool:
    """Create a private, encrypted bucket; return False when it already existed (settings re-applied)."""
    try:
        s3.head_bucket(Bucket=name)
        created = False
    except ClientError as exc:
        # us-east-1 answers CreateBucket with 200 for a bucket you already own, so ask first.
        if _error_code(exc) in ("403", "AccessDenied"):
            raise OpsError(f"bucket name {name!r} belongs to another AWS account: change it in stages.json") from exc
        if _error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise
        kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=name, **kwargs)
        created = True
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
        },
    )
    return created


def _create_table(ddb, name: str, **spec) -> bool:
    try:
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **spec)
    except ClientError as exc:
        if _error_code(exc) == "ResourceInUseException":
            return False
        raise
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return True


def ensure_predictions_table(ddb, name: str) -> bool:
    def index(index_name: str, hash_key: str) -> dict:
        return {
            "IndexName": index_name,
            "KeySchema": [
                {"AttributeName": hash_key, "KeyType": "HASH"},
                {"AttributeName": "created_at", "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }

    return _create_table(
        ddb,
        name,
        AttributeDefinitions=[
            {"AttributeName": attr, "AttributeType": "S"} for attr in ("prediction_id", "feed", "source", "created_at")
        ],
        KeySchema=[{"AttributeName": "prediction_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[index(FEED_INDEX, "feed"), index(SOURCE_INDEX, "source")],
    )


def ensure_idempotency_table(ddb, name: str) -> bool:
    created = _create_table(
        ddb,
        name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    if created:
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"}
        )
    return created


#: The longest SQS keeps a message: a failed inbox event waits this long for its re-drive.
DEAD_LETTER_RETENTION_S = 14 * 24 * 3600


def ensure_dead_letter_queue(sqs, name: str) -> bool:
    """An encrypted queue that keeps messages 14 days; False when it existed (settings re-applied)."""
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        created = False
    except ClientError as exc:
        if _error_code(exc) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
        url, created = sqs.create_queue(QueueName=name)["QueueUrl"], True
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"MessageRetentionPeriod": str(DEAD_LETTER_RETENTION_S), "SqsManagedSseEnabled": "true"},
    )
    return created


def ensure_inbox_queue(sqs, s3, config: StageConfig) -> bool:
    """Queue + DLQ fed by the inbox bucket's ObjectCreated notifications (local stage's event bridge)."""
    assert config.inbox_queue
    existed = True
    try:
        sqs.get_queue_url(QueueName=config.inbox_queue)
    except ClientError:
        existed = False
    dlq_url = sqs.create_queue(QueueName=f"{config.inbox_queue}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName=config.inbox_queue)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{config.inbox_bucket}"}},
            }
        ],
    }
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "VisibilityTimeout": "60",
            "ReceiveMessageWaitTimeSeconds": "20",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
            "Policy": json.dumps(policy),
        },
    )
    # Keep the bucket's other notifications (a `chalice deploy`ed S3 function, `make deploy-local`).
    notifications = s3.get_bucket_notification_configuration(Bucket=config.inbox_bucket)
    notifications.pop("ResponseMetadata", None)
    queues = [q for q in notifications.get("QueueConfigurations", []) if q.get("Id") != BRIDGE_NOTIFICATION]
    queues.append(
        {
            "Id": BRIDGE_NOTIFICATION,
            "QueueArn": queue_arn,
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": config.inbox_prefix}]}},
        }
    )
    s3.put_bucket_notification_configuration(
        Bucket=config.inbox_bucket, NotificationConfiguration={**notifications, "QueueConfigurations": queues}
    )
    return not existed


def provision(config: StageConfig, session: boto3.Session | None = None) -> Report:
    """Create every resource of ``config``'s stage that does not exist yet."""
    session = session or boto3.Session(region_name=config.region)
    s3, ddb = session.client("s3"), session.client("dynamodb")
    report = Report()
    for bucket in (config.inbox_bucket, config.results_bucket):
        report.add(f"s3://{bucket}", ensure_bucket(s3, bucket, config.region))
    report.add(f"dynamodb:{config.predictions_table}", ensure_predictions_table(ddb, config.predictions_table))
    report.add(f"dynamodb:{config.idempotency_table}", ensure_idempotency_table(ddb, config.idempotency_table))
    sqs = session.client("sqs")
    dead_letters = config.inbox_dead_letter_queue
    report.add(f"sqs:{dead_letters}", ensure_dead_letter_queue(sqs, dead_letters))
    if config.inbox_queue:
        report.add(f"sqs:{config.inbox_queue}", ensure_inbox_queue(sqs, s3, config))
    kept = f"{config.retention_days} days" if config.retention_days else "kept forever"
    report.add(f"retention: {kept}", ensure_retention(s3, ddb, config))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default=None, help="stage from stages.json (default $DIGITS_STAGE or local)")
    args = parser.parse_args(argv)
    try:
        config = load(args.stage)
        check_account(config, boto3.Session(region_name=config.region))
        report = provision(config)
        report.add(f"iam policy {policy_path(config.stage).name}", write_policy(load(config.stage, environ={})))
    except (OpsError, ValueError) as exc:
        print(f"provision: error: {exc}", file=sys.stderr)
        return 1
    except ClientError as exc:
        print(f"provision: AWS refused: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # botocore's NoCredentialsError, EndpointConnectionError, ...
        if type(exc).__module__.startswith("botocore"):
            print(f"provision: cannot reach AWS: {exc}", file=sys.stderr)
            return 1
        raise
    for name in report.created:
        print(f"created  {name}")
    for name in report.existed:
        print(f"exists   {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

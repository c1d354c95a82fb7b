"""Provisioning against the real emulator: idempotent, private, encrypted, Query-able keys."""

import json

import boto3
import pytest

from chalicelib.config import load
from ops.provision import FEED_INDEX, SOURCE_INDEX, main, provision

pytestmark = pytest.mark.integration


def test_provision_creates_everything_then_reports_it_existed(emulator):
    emulator.reset()
    config = load("local")
    first = provision(config)
    assert first.existed == []
    assert f"s3://{config.inbox_bucket}" in first.created
    assert f"sqs:{config.inbox_queue}" in first.created
    second = provision(config)
    assert second.created == []
    assert sorted(second.existed) == sorted(first.created)


def test_buckets_are_private_and_encrypted(aws):
    s3 = boto3.client("s3")
    for bucket in (aws.inbox_bucket, aws.results_bucket):
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()), block
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_table_lists_newest_first_without_scan(aws):
    ddb = boto3.client("dynamodb")
    table = ddb.describe_table(TableName=aws.predictions_table)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    indexes = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in table["GlobalSecondaryIndexes"]}
    assert indexes == {FEED_INDEX: ["feed", "created_at"], SOURCE_INDEX: ["source", "created_at"]}
    for n, created in enumerate(["2026-01-01T00:00:00.000001Z", "2026-01-03T00:00:00.000001Z", "2026-01-02T00:00:00Z"]):
        ddb.put_item(
            TableName=aws.predictions_table,
            Item={
                "prediction_id": {"S": f"p{n}"},
                "feed": {"S": "all"},
                "source": {"S": "api"},
                "created_at": {"S": created},
            },
        )
    items = ddb.query(
        TableName=aws.predictions_table,
        IndexName=FEED_INDEX,
        KeyConditionExpression="feed = :f",
        ExpressionAttributeValues={":f": {"S": "all"}},
        ScanIndexForward=False,
    )["Items"]
    assert [i["prediction_id"]["S"] for i in items] == ["p1", "p2", "p0"]


def test_inbox_uploads_notify_the_queue(aws):
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    s3.put_object(Bucket=aws.inbox_bucket, Key="inbox/a.png", Body=b"x")
    s3.put_object(Bucket=aws.inbox_bucket, Key="elsewhere/b.png", Body=b"x")
    url = sqs.get_queue_url(QueueName=aws.inbox_queue)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)["Messages"]
    # S3 also sends one s3:TestEvent when the notification is configured; the bridge skips it.
    records = [r for m in messages for r in json.loads(m["Body"]).get("Records", [])]
    assert [r["s3"]["object"]["key"] for r in records] == ["inbox/a.png"]


def test_cli_reports_unreachable_aws_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert main(["--stage", "local"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("provision: cannot reach AWS")

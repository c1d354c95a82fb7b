"""The local S3 -> SQS -> Lambda bridge as ``make up`` runs it (a real process, the real queue and DLQ):
uploads become records, duplicate notifications stay one record, failures are retried, poison goes to
the dead-letter queue, SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import boto3
import numpy as np
import pytest
from boto3.dynamodb.conditions import Key

from tests import images
from tests.stack_fixtures import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return images.validation_digits(mnist_dir, count=10)


def records_for(config, key: str) -> list[dict]:
    table = boto3.resource("dynamodb").Table(config.predictions_table)
    items = table.query(IndexName="by-source", KeyConditionExpression=Key("source").eq("s3"))["Items"]
    return [i for i in items if i.get("source_key") == key]


def put_inbox(config, body: bytes) -> str:
    key = f"{config.inbox_prefix}{uuid.uuid4().hex}.png"
    boto3.client("s3").put_object(Bucket=config.inbox_bucket, Key=key, Body=body)
    return key


def queue_url(config, dlq: bool = False) -> str:
    name = config.inbox_queue + ("-dlq" if dlq else "")
    return boto3.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def queue_empty(url: str) -> bool:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return all(v == "0" for v in attributes.values())


def notification(config, key: str) -> str:
    """The body S3 sends for ``key`` (URL-encoded key, real size and ETag)."""
    head = boto3.client("s3").head_object(Bucket=config.inbox_bucket, Key=key)
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": config.region,
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "inbox-to-bridge",
            "bucket": {"name": config.inbox_bucket, "arn": f"arn:aws:s3:::{config.inbox_bucket}"},
            "object": {"key": key, "size": head["ContentLength"], "eTag": head["ETag"].strip('"')},
        },
    }
    return json.dumps({"Records": [record]})


def test_an_upload_becomes_a_record_and_a_result_json(local_stack, digits):
    config = local_stack.config
    pictures, labels = digits
    key = put_inbox(config, images.png(pictures[8]))
    [record] = wait_for(lambda: records_for(config, key), timeout=15)
    assert record["status"] == "succeeded" and int(record["digit"]) == int(labels[8])
    body = boto3.client("s3").get_object(Bucket=config.results_bucket, Key=record["result_key"])["Body"].read()
    assert json.loads(body)["source_key"] == key


def test_duplicate_notifications_give_one_record(local_stack, digits):
    config = local_stack.config
    key = put_inbox(config, images.png(digits[0][3]))
    wait_for(lambda: records_for(config, key), timeout=15)
    sqs, url = boto3.client("sqs"), queue_url(config)
    body = notification(config, key)
    for _ in range(2):  # S3 delivers at least once: the same notification again, twice
        sqs.send_message(QueueUrl=url, MessageBody=body)
    wait_for(lambda: queue_empty(url), timeout=30, interval=0.2)
    assert len(records_for(config, key)) == 1


def test_test_events_are_consumed(local_stack):
    config = local_stack.config
    sqs, url = boto3.client("sqs"), queue_url(config)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"}))
    wait_for(lambda: queue_empty(url), timeout=15, interval=0.2)


def test_a_failure_is_retried_until_it_succeeds(local_stack, digits):
    config = local_stack.config
    pictures, labels = digits
    local_stack.endpoint.stop()
    try:
        key = put_inbox(config, images.png(pictures[2]))
        failed = wait_for(lambda: [r for r in records_for(config, key) if r["status"] == "failed"], timeout=30)
        assert failed[0]["error_code"] == "endpoint_unavailable"
    finally:
        local_stack.endpoint.start()
    done = wait_for(lambda: [r for r in records_for(config, key) if r["status"] == "succeeded"], timeout=60)
    assert int(done[0]["digit"]) == int(labels[2]) and len(records_for(config, key)) == 1


def test_a_poison_message_ends_in_the_dead_letter_queue(local_stack):
    config = local_stack.config
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=queue_url(config), MessageBody="this is not an S3 event")
    dlq = queue_url(config, dlq=True)

    def in_dlq() -> list:
        return sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])

    [message] = wait_for(in_dlq, timeout=60, interval=0.5)  # after the queue's 5 receives
    assert message["Body"] == "this is not an S3 event"
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])


def test_sigterm_stops_the_bridge_promptly(local_stack):
    started = time.monotonic()
    assert local_stack.bridge.stop() == 0
    assert time.monotonic() - started < 10
    local_stack.bridge.start()

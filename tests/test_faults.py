"""Faults, and nothing lost: real processes are stopped, real tables dropped, and every upload still ends
as exactly one record (counted by source key with a Query on the ``by-source`` index).

* the endpoint is stopped while 100 inbox uploads are being processed, then started again;
* the emulator is stopped cleanly and started again (its own instance: the session's is not touched);
* the predictions table is dropped, or replaced by one that refuses every write, while an upload is
  processed: the event is retried (the bridge's ChangeMessageVisibility backoff: 1, 2, 4, ... s), kept
  in the queue, and ends as one record once the table is back; kept out longer than the queue's
  ``maxReceiveCount`` (5), the event waits in the dead-letter queue, intact, and a redrive finishes it.

The same notification delivered twice is ``tests/test_bridge.py::test_duplicate_notifications_give_one_record``
(and ``tests/test_s3_trigger.py::test_a_redelivered_event_does_not_duplicate`` for the handler alone).
Dropping the predictions table also drops the records earlier tests wrote (test data only).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from bench import load
from bench.load import inbox_records
from chalicelib import store
from chalicelib.config import StageConfig
from chalicelib.config import load as load_config
from chalicelib.endpoint_client import EndpointClient
from chalicelib.errors import EndpointUnavailable, ImageRejected
from chalicelib.media import accept_image
from chalicelib.store import PredictionStore, new_prediction_id, utc_now
from ops.emulator import Emulator, free_port
from ops.provision import SOURCE_INDEX, ensure_predictions_table, provision
from tests.stack_fixtures import wait_for

pytestmark = pytest.mark.integration

BURST = 100


@pytest.fixture(scope="module")
def samples(mnist_dir: Path) -> list[load.Sample]:
    return load.samples(mnist_dir)


def queue_url(config: StageConfig, dlq: bool = False) -> str:
    return boto3.client("sqs").get_queue_url(QueueName=config.inbox_queue + ("-dlq" if dlq else ""))["QueueUrl"]


def messages_in(url: str) -> int:
    """Messages in a queue: waiting, being handled (invisible) or delayed."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attributes.get(name, 0)) for name in names)


def drain_dlq(config: StageConfig) -> dict[str, dict]:
    """Take every message out of the dead-letter queue: inbox key -> message."""
    sqs, url = boto3.client("sqs"), queue_url(config, dlq=True)
    found: dict[str, dict] = {}
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages"):
        for message in messages:
            for record in json.loads(message["Body"]).get("Records", []):
                found[record["s3"]["object"]["key"]] = message
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def bridge_log(local_stack) -> str:
    return local_stack.bridge.log_path.read_text(errors="replace")


# -------------------------------------------------------------------------------- the endpoint


def test_endpoint_stopped_during_a_burst_loses_no_upload(local_stack, samples):
    config = local_stack.config
    prefix = f"{config.inbox_prefix}fault-endpoint-{uuid.uuid4().hex[:8]}/"
    uploads = [(f"{prefix}{i:03d}.png", samples[i % len(samples)][0]) for i in range(BURST)]
    since = utc_now()
    uploader = threading.Thread(target=load.upload_inbox, args=(config, uploads[: BURST // 2], 8))
    uploader.start()
    try:
        # Some are done, the rest queued or being handled: stop the endpoint now. The second half goes
        # up while it is down, so events reach a stopped endpoint however fast the first half went by.
        wait_for(lambda: len(inbox_records(config, prefix, since)) >= 10, timeout=60, what="first records")
        local_stack.endpoint.stop()
        load.upload_inbox(config, uploads[BURST // 2 :], 8)
        time.sleep(3)
    finally:
        uploader.join()
        local_stack.endpoint.start()
    url = queue_url(config)
    wait_for(lambda: messages_in(url) == 0, timeout=180, interval=0.5, what="queue drained")

    records = inbox_records(config, prefix, since)
    assert sorted(records) == [key for key, _ in uploads], "an upload has no record"
    assert {key: len(items) for key, items in records.items() if len(items) != 1} == {}, "duplicated"
    statuses = {key: items[0]["status"] for key, items in records.items()}
    failed = {key for key, status in statuses.items() if status == "failed"}
    in_dlq = drain_dlq(config)
    assert set(statuses.values()) <= {"succeeded", "failed"}
    for key in failed:  # retries exhausted while the endpoint was down: a reason, and the event kept
        assert records[key][0]["error_code"] == "endpoint_unavailable", records[key]
        assert key in in_dlq, f"{key} failed and its event is gone"
    retries = sum(
        1
        for line in bridge_log(local_stack).splitlines()
        if f"handler failed for ['{prefix}" in line and "EndpointUnavailable" in line
    )
    print(
        f"\n{BURST} uploads, {retries} failed attempts while the endpoint was down: "
        f"{BURST - len(failed)} succeeded, {len(failed)} failed with a reason (event in the DLQ)"
    )
    assert retries > 0, "the endpoint was stopped while nothing was in flight: the test proved nothing"
    assert len(failed) < BURST // 2, "the endpoint came back; most uploads must have been retried to success"


# -------------------------------------------------------------------------------- the emulator


@contextmanager
def aimed_at(emulator: Emulator) -> Iterator[None]:
    """This process's boto3 (and the store's cached clients) on another emulator, then back."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in emulator.client_env().items():
            patch.setenv(name, value)
        store._s3.cache_clear()
        store._dynamodb.cache_clear()
        try:
            yield
        finally:
            store._s3.cache_clear()
            store._dynamodb.cache_clear()


def test_records_survive_an_emulator_restart(tmp_path, endpoint_server, samples):
    body, label = samples[1]
    image = accept_image(body)
    prediction = EndpointClient(load_config("local").endpoint_name).predict(image.data, image.content_type)
    emulator = Emulator(port=free_port(), state_dir=tmp_path / "ministack", log_path=tmp_path / "ministack.log")
    emulator.start()
    try:
        with aimed_at(emulator):
            config = load_config("local")
            provision(config)
            records = PredictionStore(config)
            written = [
                records.save_succeeded(
                    prediction_id=new_prediction_id(),
                    source="api",
                    created_at=utc_now(),
                    result=prediction.result,
                    latency_ms=prediction.latency_ms,
                    image=image,
                ),
                records.save_succeeded(
                    prediction_id=new_prediction_id(),
                    source="s3",
                    created_at=utc_now(),
                    result=prediction.result,
                    latency_ms=prediction.latency_ms,
                    source_key="inbox/kept.png",
                ),
                records.save_rejected(
                    prediction_id=new_prediction_id(),
                    source="s3",
                    created_at=utc_now(),
                    error=ImageRejected("no digit found", code="no_digit_found"),
                    source_key="inbox/blank.png",
                ),
                records.save_failed(
                    prediction_id=new_prediction_id(),
                    source="s3",
                    created_at=utc_now(),
                    error=EndpointUnavailable("the endpoint is down"),
                    source_key="inbox/later.png",
                ),
            ]
            records.add_feedback(written[0]["prediction_id"], label)
            sqs = boto3.client("sqs")
            sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=config.inbox_queue)["QueueUrl"], MessageBody="kept")

            emulator.stop()
            emulator.start()

            for before in written:
                after = records.get(before["prediction_id"])
                assert after is not None, f"{before['status']} record lost"
                assert {k: v for k, v in after.items() if not k.startswith("feedback")} == before
            assert records.get(written[0]["prediction_id"])["feedback_label"] == label
            listed = [item["prediction_id"] for item in records.list(limit=10).items]
            assert listed == [r["prediction_id"] for r in reversed(written)], "the by-time index is intact"
            s3 = boto3.client("s3")
            for before in written[:3]:
                result = s3.get_object(Bucket=config.results_bucket, Key=before["result_key"])["Body"].read()
                assert json.loads(result)["prediction_id"] == before["prediction_id"]
            stored = s3.get_object(Bucket=config.results_bucket, Key=written[0]["image_key"])["Body"].read()
            assert stored == body
            url = sqs.get_queue_url(QueueName=config.inbox_queue)["QueueUrl"]
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]
            assert "kept" in [m["Body"] for m in messages], "an unprocessed event survives too"
            assert provision(config).created == [], "provisioning again finds everything"
    finally:
        emulator.stop()


# -------------------------------------------------------------------------------- DynamoDB


def _drop_table(name: str) -> None:
    ddb = boto3.client("dynamodb")
    try:
        ddb.delete_table(TableName=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    ddb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})


def _create_write_refusing_table(name: str) -> None:
    """The predictions table, but with ``created_at`` typed as a number in its index: GetItem works,
    every PutItem of a record (``created_at`` is a string) is refused with a ValidationException."""
    ddb = boto3.client("dynamodb")
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "prediction_id", "AttributeType": "S"},
            {"AttributeName": "source", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "prediction_id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": SOURCE_INDEX,
                "KeySchema": [
                    {"AttributeName": "source", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})


@contextmanager
def predictions_table_broken(config: StageConfig, fault: str) -> Iterator[Callable[[], None]]:
    """Break the predictions table (``dropped`` or ``writes refused``); yields ``restore``, which the
    test calls when it wants the table back (and which runs anyway at the end)."""
    _drop_table(config.predictions_table)
    if fault == "writes refused":
        _create_write_refusing_table(config.predictions_table)

    def restore() -> None:
        _drop_table(config.predictions_table)
        ensure_predictions_table(boto3.client("dynamodb"), config.predictions_table)

    try:
        yield restore
    finally:
        if not ensure_predictions_table(boto3.client("dynamodb"), config.predictions_table):
            described = boto3.client("dynamodb").describe_table(TableName=config.predictions_table)["Table"]
            if any(a["AttributeType"] != "S" for a in described["AttributeDefinitions"]):
                restore()


#: What the bridge logs for each fault (StorageUnavailable's message names the operation that failed).
FAULT_MESSAGE = {
    "dropped": "storage unavailable (reading the record)",
    "writes refused": "storage unavailable (writing the record)",
}


@pytest.mark.parametrize("fault", list(FAULT_MESSAGE))
def test_a_table_fault_is_retried_and_ends_as_one_record(local_stack, samples, fault):
    config = local_stack.config
    body, label = samples[4]
    key = f"{config.inbox_prefix}fault-table-{uuid.uuid4().hex[:8]}.png"
    queue, dlq = queue_url(config), queue_url(config, dlq=True)
    since = utc_now()
    with predictions_table_broken(config, fault) as restore:
        boto3.client("s3").put_object(Bucket=config.inbox_bucket, Key=key, Body=body)
        failure = f"handler failed for ['{key}'] (StorageUnavailable: {FAULT_MESSAGE[fault]}"
        wait_for(lambda: failure in bridge_log(local_stack), timeout=30, what="the bridge hit the fault")
        assert messages_in(queue) >= 1, "the failed event must stay in the queue"
        assert messages_in(dlq) == 0
        restore()
    [record] = wait_for(lambda: inbox_records(config, key, since).get(key), timeout=30, what="the record")
    assert record["status"] == "succeeded" and int(record["digit"]) == label
    wait_for(lambda: messages_in(queue) == 0, timeout=15, what="the event consumed")
    assert messages_in(dlq) == 0
    assert len(inbox_records(config, key, since)[key]) == 1


@pytest.mark.slow
def test_a_long_table_outage_parks_the_event_in_the_dlq_and_a_redrive_finishes_it(local_stack, samples):
    config = local_stack.config
    body, label = samples[6]
    key = f"{config.inbox_prefix}fault-dlq-{uuid.uuid4().hex[:8]}.png"
    sqs, queue, dlq = boto3.client("sqs"), queue_url(config), queue_url(config, dlq=True)
    since = utc_now()
    with predictions_table_broken(config, "dropped") as restore:
        boto3.client("s3").put_object(Bucket=config.inbox_bucket, Key=key, Body=body)
        wait_for(lambda: f"handler failed for ['{key}']" in bridge_log(local_stack), timeout=30, what="a failure")
        assert messages_in(queue) >= 1 and messages_in(dlq) == 0, "retried from the queue first"

        # After maxReceiveCount (5) failed receives (backoff 1+2+4+8 s), SQS moves it to the DLQ.
        def parked() -> list[dict]:
            return sqs.receive_message(
                QueueUrl=dlq,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])

        [message] = wait_for(parked, timeout=60, interval=0.5, what="the event in the dead-letter queue")
        assert [r["s3"]["object"]["key"] for r in json.loads(message["Body"])["Records"]] == [key]
        assert bridge_log(local_stack).count(f"handler failed for ['{key}']") == 5
        assert messages_in(queue) == 0
        restore()
    # The redrive an operator does (aws sqs start-message-move-task in AWS): back to the queue, as it was.
    sqs.send_message(QueueUrl=queue, MessageBody=message["Body"])
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
    [record] = wait_for(lambda: inbox_records(config, key, since).get(key), timeout=30, what="the record")
    assert record["status"] == "succeeded" and int(record["digit"]) == label
    wait_for(lambda: messages_in(queue) == 0, timeout=15, what="the event consumed")
    assert len(inbox_records(config, key, since)[key]) == 1

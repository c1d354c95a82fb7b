"""``make deploy-local``: the Chalice app deployed with ``chalice deploy`` into the test emulator, and S3
uploads processed by the *deployed* function (the real deployment package, run by MiniStack under its own
Python, with nothing from the checkout on its path), calling the real local endpoint server.

Also the inbox failure path as AWS runs it: the emulator implements Lambda's asynchronous invocation
(retries, then the on-failure destination), so an event that keeps failing lands in the dead-letter
queue that ``ops.deploy`` wired, and ``ops.redrive`` turns it into one record.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import numpy as np
import pytest
from boto3.dynamodb.conditions import Key

from chalicelib.config import StageConfig
from ops.deploy import (
    CHALICE_DIR,
    FAILURES_POLICY,
    INBOX_FUNCTION,
    MAXIMUM_EVENT_AGE_S,
    MAXIMUM_RETRY_ATTEMPTS,
    RUNTIME_ENDPOINT,
    Deployment,
    deploy,
    undeploy,
)
from ops.emulator import AWS_VENV
from ops.redrive import inbox_function_name, redrive, s3_event
from tests import images
from tests.stack_fixtures import wait_for

#: Lambda's async retries run 1 s and 2 s apart in the emulator; three attempts at the endpoint each.
DEAD_LETTER_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    return images.validation_digits(mnist_dir, count=10)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the Chalice project, so that Chalice's deployed state (``.chalice/deployed``) stays out
    of the checkout; its packaging cache is kept."""
    target = tmp_path_factory.mktemp("deploy") / "chalice_app"
    shutil.copytree(CHALICE_DIR, target, ignore=shutil.ignore_patterns("deployed", "__pycache__"))
    return target


@pytest.fixture(scope="module")
def deployed(emulator, endpoint_server, provisioned: StageConfig, project: Path) -> Iterator[Deployment]:
    started = time.monotonic()
    result = deploy(provisioned, project)
    print(f"\nfirst deployment into the emulator: {time.monotonic() - started:.1f} s")
    try:
        yield result
    finally:
        undeploy(provisioned, project)
        targets = boto3.client("s3").get_bucket_notification_configuration(Bucket=provisioned.inbox_bucket)
        assert not targets.get("LambdaFunctionConfigurations"), "undeploy left the S3 trigger behind"
        # The bridge's queue got the same notifications (no bridge runs in this module): a later module's
        # bridge need not replay them.
        sqs = boto3.client("sqs")
        sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=provisioned.inbox_queue)["QueueUrl"])


def put_inbox(config: StageConfig, body: bytes) -> str:
    key = f"{config.inbox_prefix}{uuid.uuid4().hex}.png"
    boto3.client("s3").put_object(Bucket=config.inbox_bucket, Key=key, Body=body)
    return key


def records_for(config: StageConfig, key: str) -> list[dict]:
    table = boto3.resource("dynamodb").Table(config.predictions_table)
    items = table.query(IndexName="by-source", KeyConditionExpression=Key("source").eq("s3"))["Items"]
    return [i for i in items if i.get("source_key") == key]


def finished(config: StageConfig, key: str, status: str, timeout: float = 30) -> dict:
    [record] = wait_for(
        lambda: [r for r in records_for(config, key) if r["status"] == status], timeout, 0.1, f"{status} {key}"
    )
    return record


def notification(config: StageConfig, key: str) -> dict:
    """The S3 event S3 sends for ``key`` (URL-encoded key, real size and ETag)."""
    head = boto3.client("s3").head_object(Bucket=config.inbox_bucket, Key=key)
    bucket = {"name": config.inbox_bucket, "arn": f"arn:aws:s3:::{config.inbox_bucket}"}
    obj = {"key": quote_plus(key, safe="/"), "size": head["ContentLength"], "eTag": head["ETag"].strip('"')}
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": config.region,
        "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": bucket, "object": obj},
    }
    return {"Records": [record]}


def dead_letter_url(config: StageConfig) -> str:
    return boto3.client("sqs").get_queue_url(QueueName=config.inbox_dead_letter_queue)["QueueUrl"]


def dead_letter_count(config: StageConfig) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=dead_letter_url(config),
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


@pytest.mark.integration
def test_the_deployment_is_the_stage_wired_for_failures(deployed: Deployment, provisioned: StageConfig):
    lambda_client = boto3.client("lambda")
    function = inbox_function_name(provisioned.stage)
    assert deployed.resource(INBOX_FUNCTION)["lambda_arn"].endswith(f":function:{function}")
    environment = lambda_client.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    assert environment["DIGITS_STAGE"] == "local"
    assert environment[RUNTIME_ENDPOINT].startswith("http://127.0.0.1:")  # the local endpoint server
    invoke_config = lambda_client.get_function_event_invoke_config(FunctionName=function)
    dead_letters = boto3.client("sqs").get_queue_attributes(
        QueueUrl=dead_letter_url(provisioned), AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert invoke_config["MaximumRetryAttempts"] == MAXIMUM_RETRY_ATTEMPTS
    assert invoke_config["MaximumEventAgeInSeconds"] == MAXIMUM_EVENT_AGE_S
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == dead_letters
    role = deployed.resource(f"{INBOX_FUNCTION}_role")["role_name"]
    policy = boto3.client("iam").get_role_policy(RoleName=role, PolicyName=FAILURES_POLICY)["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    assert [(s["Action"], s["Resource"]) for s in policy["Statement"]] == [("sqs:SendMessage", dead_letters)]
    targets = boto3.client("s3").get_bucket_notification_configuration(Bucket=provisioned.inbox_bucket)
    assert [c["LambdaFunctionArn"] for c in targets["LambdaFunctionConfigurations"]] == [
        deployed.resource(INBOX_FUNCTION)["lambda_arn"]
    ]


@pytest.mark.integration
def test_the_emulator_python_has_boto3_and_nothing_else_the_handler_imports():
    """So what the deployed function runs besides boto3 (Powertools, chalicelib, app.py) comes from its
    deployment package."""
    python = str(AWS_VENV / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    assert subprocess.run([python, "-c", "import boto3"], env=env, cwd="/").returncode == 0
    for module in ("aws_lambda_powertools", "chalicelib", "app"):
        probe = subprocess.run([python, "-c", f"import {module}"], env=env, cwd="/", capture_output=True)
        assert probe.returncode == 1, f"{module} importable by the emulator's Python"


@pytest.mark.integration
def test_the_deployed_function_records_an_uploaded_digit(deployed, provisioned, digits):
    pictures, labels = digits
    key = put_inbox(provisioned, images.png(pictures[7]))
    record = finished(provisioned, key, "succeeded")
    assert int(record["digit"]) == int(labels[7])
    body = boto3.client("s3").get_object(Bucket=provisioned.results_bucket, Key=record["result_key"])["Body"].read()
    assert json.loads(body)["prediction_id"] == record["prediction_id"]


@pytest.mark.integration
def test_the_deployed_function_rejects_a_non_image(deployed, provisioned):
    key = put_inbox(provisioned, b"this is not an image")
    record = finished(provisioned, key, "rejected")
    assert record["error_code"] == "unsupported_media_type"


@pytest.mark.integration
def test_a_duplicate_notification_leaves_one_record(deployed, provisioned, digits):
    key = put_inbox(provisioned, images.png(digits[0][1]))
    first = finished(provisioned, key, "succeeded")
    event = json.dumps(notification(provisioned, key)).encode()
    lambda_client = boto3.client("lambda")
    for _ in range(2):  # S3 delivers at least once: the same notification again, to the deployed function
        response = lambda_client.invoke(FunctionName=inbox_function_name(provisioned.stage), Payload=event)
        assert "FunctionError" not in response
        assert json.loads(response["Payload"].read()) == [
            {"prediction_id": first["prediction_id"], "status": "succeeded"}
        ]
    assert records_for(provisioned, key) == [first]


@pytest.mark.integration
def test_failures_after_retries_land_in_the_dead_letter_queue_and_one_redrive_finishes_them(
    deployed, provisioned, endpoint_server, digits
):
    pictures, labels = digits
    assert redrive(provisioned).kept == []  # nothing left over from earlier tests
    endpoint_server.stop()
    try:
        kept_key = put_inbox(provisioned, images.png(pictures[3]))
        gone_key = put_inbox(provisioned, images.png(pictures[4]))
        failed = {key: finished(provisioned, key, "failed") for key in (kept_key, gone_key)}
        assert {r["error_code"] for r in failed.values()} == {"endpoint_unavailable"}
        wait_for(lambda: dead_letter_count(provisioned) == 2, DEAD_LETTER_TIMEOUT_S, 0.2, "two dead letters")
    finally:
        endpoint_server.start()
    boto3.client("s3").delete_object(Bucket=provisioned.inbox_bucket, Key=gone_key)  # deleted before the re-drive

    outcome = redrive(provisioned)
    assert outcome.kept == []
    assert sorted(key for item in outcome.redriven for key in item["keys"]) == sorted([kept_key, gone_key])
    assert dead_letter_count(provisioned) == 0
    [done] = records_for(provisioned, kept_key)
    assert (done["prediction_id"], done["status"]) == (failed[kept_key]["prediction_id"], "succeeded")
    assert int(done["digit"]) == int(labels[3])
    [gone] = records_for(provisioned, gone_key)
    assert (gone["prediction_id"], gone["status"]) == (failed[gone_key]["prediction_id"], "rejected")
    assert gone["error_code"] == "object_not_found"
    assert redrive(provisioned).redriven == []  # nothing loops back


@pytest.mark.integration
def test_a_record_the_function_cannot_read_stays_in_the_queue(deployed, provisioned):
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=dead_letter_url(provisioned), MessageBody="not an on-failure record")
    outcome = redrive(provisioned)
    assert outcome.redriven == [] and [k["reason"] for k in outcome.kept] == ["not an S3 on-failure record"]
    sqs.purge_queue(QueueUrl=dead_letter_url(provisioned))


@pytest.mark.integration
@pytest.mark.slow
def test_deploying_again_converges(deployed, provisioned, project, digits):
    started = time.monotonic()
    again = deploy(provisioned, project)
    print(f"\nredeployment into the emulator: {time.monotonic() - started:.1f} s")
    assert again.provisioned["created"] == []
    assert again.resource(INBOX_FUNCTION)["lambda_arn"] == deployed.resource(INBOX_FUNCTION)["lambda_arn"]
    targets = boto3.client("s3").get_bucket_notification_configuration(Bucket=provisioned.inbox_bucket)
    assert len(targets["LambdaFunctionConfigurations"]) == 1
    key = put_inbox(provisioned, images.png(digits[0][2]))
    assert int(finished(provisioned, key, "succeeded")["digit"]) == int(digits[1][2])


@pytest.mark.unit
@pytest.mark.parametrize(
    ("body", "readable"),
    [
        (json.dumps({"requestPayload": {"Records": [{"eventSource": "aws:s3", "s3": {}}]}}), True),
        (json.dumps({"requestPayload": {"Records": []}}), False),
        (json.dumps({"requestPayload": {"Records": [{"eventSource": "aws:sqs"}]}}), False),
        (json.dumps(["x"]), False),
        ("not json", False),
    ],
)
def test_only_s3_on_failure_records_are_redriven(body: str, readable: bool):
    assert (s3_event(body) is not None) == readable


@pytest.mark.unit
def test_the_dev_wiring_retries_until_lambda_sees_the_new_permission(monkeypatch: pytest.MonkeyPatch):
    """Against AWS (moto here): the invoke configuration and the role policy for the dev stage's queue, and
    the retry while Lambda still answers that the role may not SendMessage (IAM is eventually consistent)."""
    from botocore.awsrequest import AWSResponse
    from moto import mock_aws

    from chalicelib.config import load
    from ops import deploy as deploy_module
    from ops.provision import ensure_dead_letter_queue

    for key in [k for k in os.environ if k.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE"))]:
        monkeypatch.delenv(key)
    monkeypatch.setattr(deploy_module.time, "sleep", lambda _s: None)
    config = load("dev", environ={})
    refusals = []

    def not_yet(**_: object):
        if refusals:
            return None  # let the call through to moto
        refusals.append(1)
        error = {"Error": {"Code": "InvalidParameterValueException", "Message": "The function's execution role"
                           " does not have permissions to call SendMessage"}}  # fmt: skip
        return AWSResponse("https://lambda.us-east-1.amazonaws.com/", 400, {}, None), error

    with mock_aws():
        session = boto3.Session(region_name=config.region)
        session.events.register("before-call.lambda.PutFunctionEventInvokeConfig", not_yet)
        trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole"}]}  # fmt: skip
        role = session.client("iam").create_role(RoleName="digits-dev-handle_inbox_upload",
                                                  AssumeRolePolicyDocument=json.dumps(trust))["Role"]  # fmt: skip
        function = session.client("lambda").create_function(
            FunctionName="digits-dev-handle_inbox_upload", Runtime="python3.11", Role=role["Arn"],
            Handler="app.handle_inbox_upload", Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        )["FunctionArn"]  # fmt: skip
        ensure_dead_letter_queue(session.client("sqs"), config.inbox_dead_letter_queue)

        sent = deploy_module.wire_inbox_failures(config, function, role["RoleName"], session)

        assert refusals == [1]  # refused once, then sent again
        queue = f"arn:aws:sqs:us-east-1:123456789012:{config.inbox_dead_letter_queue}"
        stored = session.client("lambda").get_function_event_invoke_config(FunctionName=function)
        assert stored["MaximumRetryAttempts"] == sent["MaximumRetryAttempts"] == 2
        assert stored["MaximumEventAgeInSeconds"] == 3600
        assert stored["DestinationConfig"] == {"OnFailure": {"Destination": queue}}
        policy = session.client("iam").get_role_policy(RoleName=role["RoleName"], PolicyName=FAILURES_POLICY)
        [statement] = policy["PolicyDocument"]["Statement"]
        assert (statement["Action"], statement["Resource"]) == ("sqs:SendMessage", queue)
        attributes = session.client("sqs").get_queue_attributes(
            QueueUrl=session.client("sqs").get_queue_url(QueueName=config.inbox_dead_letter_queue)["QueueUrl"],
            AttributeNames=["MessageRetentionPeriod", "SqsManagedSseEnabled"],
        )["Attributes"]
        assert attributes == {"MessageRetentionPeriod": "1209600", "SqsManagedSseEnabled": "true"}

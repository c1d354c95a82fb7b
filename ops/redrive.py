"""Re-drive the inbox events the deployed S3 function gave up on: ``python -m ops.redrive --stage dev``.

Lambda sends an S3 event that still failed after its retries (``ops.deploy`` wires this) to the stage's
inbox dead-letter queue as an on-failure record: ``{"requestContext": {"functionArn", "condition",
...}, "requestPayload": <the S3 event>, "responseContext": {...}, "responsePayload": <the error>}``.
This command takes each record, invokes the stage's inbox function again with the original S3 event
(synchronously, so that it knows the outcome) and deletes the record only when the function returned.

* The S3 event names the same object version, so the function derives the same prediction id: the
  record left ``failed`` is replaced, a record already finished by a later delivery is kept as it is;
  there is never a second record.
* An image deleted in the meantime is recorded as ``rejected`` (``object_not_found``) and its
  dead-letter record deleted: a re-drive never loops.
* A record the function fails on again, or one that is not an S3 on-failure record, stays in the
  queue (invisible for :data:`VISIBILITY_S`, so one run tries it once) and is reported.

Needs ``sqs:ReceiveMessage``/``sqs:DeleteMessage`` on the queue and ``lambda:InvokeFunction`` on the
function. Prints ``{"redriven": [...], "kept": [...]}`` and exits 1 when something was kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.config import StageConfig, load
from ops.deploy import CHALICE_DIR, INBOX_FUNCTION

#: How long a record being re-driven stays invisible to other readers (above the function's timeout).
VISIBILITY_S = 180


def inbox_function_name(stage: str) -> str:
    """The name Chalice gives the stage's S3 function: ``<app_name>-<stage>-handle_inbox_upload``."""
    app_name = json.loads((CHALICE_DIR / ".chalice" / "config.json").read_text())["app_name"]
    return f"{app_name}-{stage}-{INBOX_FUNCTION}"


@dataclass
class Redrive:
    """Outcome of one run: the records re-driven (with the function's result) and those kept."""

    redriven: list[dict[str, Any]] = field(default_factory=list)
    kept: list[dict[str, Any]] = field(default_factory=list)


def s3_event(body: str) -> dict[str, Any] | None:
    """The S3 event inside a Lambda on-failure record, or None when the body is not one."""
    try:
        record = json.loads(body)
    except ValueError:
        return None
    event = record.get("requestPayload") if isinstance(record, dict) else None
    if not isinstance(event, dict) or not isinstance(event.get("Records"), list) or not event["Records"]:
        return None
    if not all(r.get("eventSource") == "aws:s3" for r in event["Records"]):
        return None
    return event


def redrive(config: StageConfig, session: boto3.Session | None = None, limit: int | None = None) -> Redrive:
    """Replay up to ``limit`` (default: all) dead-letter records through the stage's inbox function."""
    session = session or boto3.Session(region_name=config.region)
    sqs = session.client("sqs")
    # The function may take up to its timeout (60 s in AWS): the read timeout must outlast it.
    lambda_client = session.client("lambda", config=Config(read_timeout=900, retries={"mode": "standard"}))
    function = inbox_function_name(config.stage)
    url = sqs.get_queue_url(QueueName=config.inbox_dead_letter_queue)["QueueUrl"]
    outcome = Redrive()
    while limit is None or len(outcome.redriven) + len(outcome.kept) < limit:
        batch = 10 if limit is None else min(10, limit - len(outcome.redriven) - len(outcome.kept))
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=batch, WaitTimeSeconds=1, VisibilityTimeout=VISIBILITY_S
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            event = s3_event(message["Body"])
            if event is None:
                outcome.kept.append({"message_id": message["MessageId"], "reason": "not an S3 on-failure record"})
                continue
            keys = [r["s3"]["object"]["key"] for r in event["Records"]]
            response = lambda_client.invoke(
                FunctionName=function, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
            )
            payload = json.loads(response["Payload"].read() or b"null")
            if response.get("FunctionError"):
                outcome.kept.append({"message_id": message["MessageId"], "keys": keys, "error": payload})
                continue
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            outcome.redriven.append({"message_id": message["MessageId"], "keys": keys, "results": payload})
    return outcome


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True, help="stage from stages.json")
    parser.add_argument("--limit", type=int, default=None, help="re-drive at most this many records")
    args = parser.parse_args(argv)
    try:
        outcome = redrive(load(args.stage), limit=args.limit)
    except ValueError as exc:
        print(f"redrive: error: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"redrive: AWS refused or is unreachable: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(vars(outcome), indent=2, default=str))
    return 1 if outcome.kept else 0


if __name__ == "__main__":
    sys.exit(main())

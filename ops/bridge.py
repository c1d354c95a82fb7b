"""Local S3 -> Lambda event bridge: ``python -m ops.bridge`` (``make up`` starts it after ``chalice local``).

In AWS, S3 invokes the Chalice S3 handler itself. Locally, provisioning points the inbox bucket's
ObjectCreated notifications at an SQS queue (with a dead-letter queue); this bridge long-polls that
queue and runs the *same* handler in-process, loaded the way ``chalice local`` loads the app (the
stage's environment variables applied first), with the notification's own S3 event: key, size,
eTag and versionId exactly as S3 sent them.
Why ``make up`` keeps it rather than the emulator's own S3 -> Lambda invocation of a deployed
function (``make deploy-local``): docs/deploying.md, measured.

Delivery semantics match Lambda's asynchronous invocation closely enough to test against:

* a message is deleted only after the handler returned; when it raised, the message becomes visible
  again after a short backoff (1, 2, 4, ... s, at most 60 s) and is retried; after the queue's
  ``maxReceiveCount`` receives SQS moves it to the dead-letter queue. A message that is no S3 event
  at all is made visible again at once, so it gets there in seconds. Nothing is dropped silently;
* S3's ``s3:TestEvent`` (sent when notifications are configured) is deleted without a call;
* messages are handled concurrently by a small thread pool; SIGTERM/SIGINT stop polling, let the
  running handlers finish, and exit.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.config import StageConfig, load
from ops.emulator import ROOT

log = logging.getLogger("ops.bridge")

CHALICE_DIR = ROOT / "chalice_app"
HANDLER_NAME = "handle_inbox_upload"
POLL_WAIT_S = 2
WORKERS = 4
MAX_BACKOFF_S = 60

Handler = Callable[[dict[str, Any], Any], Any]


def load_handler(stage: str) -> tuple[Handler, Callable[[], Any]]:
    """The Chalice S3 handler of ``stage`` and a factory of Lambda contexts for it."""
    from chalice.cli.factory import CLIFactory
    from chalice.local import LambdaContext

    factory = CLIFactory(str(CHALICE_DIR), environ=os.environ)
    config = factory.create_config_obj(chalice_stage_name=stage)
    app = factory.load_chalice_app(config.environment_variables)  # sets the stage's env, imports app.py
    scoped = config.scope(stage, HANDLER_NAME)

    def context() -> Any:
        return LambdaContext(
            f"{config.app_name}-{stage}-{HANDLER_NAME}",
            memory_size=scoped.lambda_memory_size,
            max_runtime_ms=scoped.lambda_timeout * 1000,
        )

    return app.handler_map[HANDLER_NAME], context


@dataclass
class Bridge:
    config: StageConfig
    handler: Handler
    new_context: Callable[[], Any]
    workers: int = WORKERS
    stop: threading.Event = field(default_factory=threading.Event)
    _queue_url: str | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if not self.config.inbox_queue:
            raise ValueError(f"stage {self.config.stage!r} has no inbox queue (only the local stage uses the bridge)")
        self.sqs = boto3.client("sqs", region_name=self.config.region)

    def queue_url(self) -> str:
        if self._queue_url is None:
            self._queue_url = self.sqs.get_queue_url(QueueName=self.config.inbox_queue)["QueueUrl"]
        return self._queue_url

    def run(self) -> None:
        """Poll until :attr:`stop` is set; then wait for the running handlers."""
        log.info("polling %s with %d workers", self.config.inbox_queue, self.workers)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="bridge") as pool:
            while not self.stop.is_set():
                messages = self.receive()
                if messages:
                    wait([pool.submit(self.handle, message) for message in messages])
        log.info("stopped")

    def receive(self) -> list[dict[str, Any]]:
        try:
            return self.sqs.receive_message(
                QueueUrl=self.queue_url(),
                MaxNumberOfMessages=10,
                WaitTimeSeconds=POLL_WAIT_S,
                MessageSystemAttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])
        except (ClientError, BotoCoreError) as exc:  # queue not (yet / any more) there, emulator restarting
            log.warning("cannot receive from %s: %s; retrying in 1 s", self.config.inbox_queue, exc)
            self._queue_url = None
            self.stop.wait(1)
            return []

    def handle(self, message: dict[str, Any]) -> bool:
        """Run the handler on one notification; True when the message was consumed (deleted)."""
        receipt = message["ReceiptHandle"]
        try:
            event = json.loads(message["Body"])
        except ValueError:
            log.error("message %s is not JSON; leaving it for the dead-letter queue", message.get("MessageId"))
            return self._retry_later(message, backoff=False)
        if event.get("Event") == "s3:TestEvent":
            self._delete(receipt)
            return True
        if not event.get("Records"):
            log.error("message %s is not an S3 event; leaving it for the dead-letter queue", message.get("MessageId"))
            return self._retry_later(message, backoff=False)
        started = time.perf_counter()
        try:
            results = self.handler(event, self.new_context())
        except Exception as exc:
            keys = [r.get("s3", {}).get("object", {}).get("key") for r in event["Records"]]
            log.warning("handler failed for %s (%s: %s); it will be retried", keys, type(exc).__name__, exc)
            return self._retry_later(message)
        self._delete(receipt)
        log.info("handled %s in %.0f ms", results, (time.perf_counter() - started) * 1000)
        return True

    def _retry_later(self, message: dict[str, Any], backoff: bool = True) -> bool:
        """Make the message visible again: after a backoff, or at once for one that can never succeed
        (it then reaches the dead-letter queue after the queue's maxReceiveCount receives)."""
        receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        try:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url(),
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=min(2 ** (receives - 1), MAX_BACKOFF_S) if backoff else 0,
            )
        except (ClientError, BotoCoreError) as exc:  # the queue's own visibility timeout applies instead
            log.warning("could not shorten the visibility timeout: %s", exc)
        return False

    def _delete(self, receipt: str) -> None:
        self.sqs.delete_message(QueueUrl=self.queue_url(), ReceiptHandle=receipt)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="local", help="a stage with an inbox queue (default: local)")
    parser.add_argument("--workers", type=int, default=WORKERS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    handler, new_context = load_handler(args.stage)
    bridge = Bridge(load(args.stage), handler, new_context, workers=args.workers)

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %d: finishing running handlers", signum)
        bridge.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    bridge.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The load test's Locust users: the endpoint alone, ``POST /predict``, and uploads to the inbox bucket.

``python -m bench.load`` (``make load``) runs each class in its own headless Locust process against a
local stack, then counts the records. By hand, against a running ``make up``::

    locust -f bench/locustfile.py --headless --users 16 --spawn-rate 16 --run-time 10m \\
        --host http://127.0.0.1:8000 --requests 500 --results-file /tmp/api.json ApiUser

``--requests`` bounds a run: the users share that many task iterations, then stop, and the run ends
when the last one has (``--run-time`` is the bound in time). Users never wait between tasks: each
keeps one request in flight, so ``--users`` is the concurrency. AWS calls (``InvokeEndpoint``,
``PutObject``) go through boto3 and are reported to Locust as requests, so all three runs have the
same statistics. ``--results-file`` gets Locust's figures for the run (requests, failures, throughput,
latency percentiles) and what the load test checks afterwards: the prediction ids answered, or the keys
uploaded with the times each upload started and finished. Samples are held-out MNIST digits
(:func:`bench.load.samples`); the AWS endpoints and the stage come from the environment, as for every
other process of the local stack.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from typing import Any

import boto3
import gevent
from botocore.config import Config
from locust import FastHttpUser, User, constant, events, task
from locust.env import Environment
from locust.exception import StopUser

from chalicelib.config import load

PERCENTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


class Run:
    """What the users of one run share (one Locust process runs one load)."""

    def __init__(self) -> None:
        self.tickets = itertools.count()
        self.running = 0
        self.samples: list[tuple[bytes, int]] = []
        #: ApiUser: [prediction_id, label, digit]; EndpointUser: [None, label, digit];
        #: InboxUser: [key, label, epoch seconds when the upload started, and when it finished].
        self.outcomes: list[list[Any]] = []

    def ticket(self, environment: Environment) -> int:
        """The next sample's index, or StopUser once ``--requests`` were handed out."""
        number = next(self.tickets)
        if number >= environment.parsed_options.requests:
            raise StopUser()
        return number


RUN = Run()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--requests", type=int, default=100, help="task iterations in all users together")
    parser.add_argument("--results-file", default="", help="where to write the run's figures and outcomes (JSON)")
    parser.add_argument("--mnist-dir", default="", help="MNIST IDX files (default: ../shared/data/mnist)")
    parser.add_argument("--inbox-prefix", default="inbox/load/", help="InboxUser: key prefix of the uploads")


@events.test_start.add_listener
def _load_samples(environment: Environment, **_: Any) -> None:
    from bench.load import samples

    mnist = environment.parsed_options.mnist_dir
    RUN.samples = samples(Path(mnist) if mnist else None)
    environment.stats.reset_all()  # the run's clock starts now, not when the process did


@events.test_stop.add_listener
def _write_results(environment: Environment, **_: Any) -> None:
    path = environment.parsed_options.results_file
    if not path:
        return
    total = environment.stats.total
    seconds = (total.last_request_timestamp or total.start_time) - total.start_time
    results = {
        "requests": total.num_requests,
        "failures": total.num_failures,
        "errors": [f"{e.method} {e.name}: {e.error} (x{e.occurrences})" for e in environment.stats.errors.values()],
        "seconds": round(seconds, 2),
        "throughput_per_s": round(total.total_rps, 1),
        "latency_ms": {
            **{name: total.get_response_time_percentile(q) for name, q in PERCENTILES.items()},
            "max": round(total.max_response_time, 1),
        },
        "outcomes": RUN.outcomes,
    }
    Path(path).write_text(json.dumps(results))


class LoadUser(User):
    """One request in flight at a time, ``--requests`` in all users; the last user to stop ends the run."""

    abstract = True
    wait_time = constant(0)

    def on_start(self) -> None:
        RUN.running += 1

    def on_stop(self) -> None:
        RUN.running -= 1
        if RUN.running == 0:
            gevent.spawn(self.environment.runner.quit)

    def sample(self) -> tuple[bytes, int]:
        return RUN.samples[RUN.ticket(self.environment) % len(RUN.samples)]

    def timed(self, request_type: str, name: str, call: Any, size: int) -> Any:
        """Run ``call()`` and report it to Locust as one request; None when it raised."""
        started = time.perf_counter()
        exception, result = None, None
        try:
            result = call()
        except Exception as exc:
            exception = exc
        self.environment.events.request.fire(
            request_type=request_type,
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=size,
            exception=exception,
            context={},
        )
        return result


class EndpointUser(LoadUser):
    """``InvokeEndpoint`` straight to the endpoint (boto3, no retries): what the model server alone does."""

    def on_start(self) -> None:
        super().on_start()
        self.endpoint = load().endpoint_name
        self.runtime = boto3.client("sagemaker-runtime", config=Config(retries={"total_max_attempts": 1}))

    @task
    def invoke(self) -> None:
        body, label = self.sample()

        def call() -> dict[str, Any]:
            answer = self.runtime.invoke_endpoint(EndpointName=self.endpoint, Body=body, ContentType="image/png")
            return json.loads(answer["Body"].read())

        answer = self.timed("InvokeEndpoint", self.endpoint, call, len(body))
        if answer is not None:
            RUN.outcomes.append([None, label, answer.get("digit")])


class ApiUser(FastHttpUser, LoadUser):
    """``POST /predict`` with a PNG (``--host``: the API's base URL); anything but 200 is a failure."""

    abstract = False

    @task
    def predict(self) -> None:
        body, label = self.sample()
        with self.client.post(
            "/predict", data=body, headers={"Content-Type": "image/png"}, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {(response.text or '')[:200]}")
                return
            record = response.json()
            RUN.outcomes.append([record["prediction_id"], label, record.get("digit")])


class InboxUser(LoadUser):
    """``PutObject`` of a PNG under ``--inbox-prefix`` in the stage's inbox bucket; the key names the digit."""

    def on_start(self) -> None:
        super().on_start()
        self.bucket = load().inbox_bucket
        self.s3 = boto3.client("s3")

    @task
    def upload(self) -> None:
        number = RUN.ticket(self.environment)
        body, label = RUN.samples[number % len(RUN.samples)]
        key = f"{self.environment.parsed_options.inbox_prefix}{number:05d}-digit-{label}.png"

        def call() -> bool:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="image/png")
            return True

        started = time.time()
        if self.timed("PutObject", "inbox", call, len(body)):
            RUN.outcomes.append([key, label, started, time.time()])

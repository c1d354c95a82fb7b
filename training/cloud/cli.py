"""Command line: ``python -m training.cloud <command> [flags]`` (``--help`` on each command).

Every command prints its result as JSON on stdout. Problems the user can fix (no credentials, no
role, a resource that does not exist, an AWS refusal) end the command with exit status 1 and one
line on stderr, ``error: ...``, without a stack trace.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.cloud.alarms import DEFAULT_LATENCY_MS
from training.cloud.autoscaling import DEFAULT_INVOCATIONS_PER_INSTANCE, DEFAULT_MAX_INSTANCES, Scaling
from training.cloud.context import (
    DEFAULT_PREFIX,
    DEFAULT_STAGE,
    ROLE_ENV,
    Cloud,
    CloudError,
    Settings,
    check_s3_uri,
    connect,
)
from training.cloud.hosting import DEFAULT_INSTANCE, SERVERLESS_MEMORY_SIZES, Capacity
from training.cloud.jobs import (
    DEFAULT_DATA_DIR,
    DEFAULT_TRAINING_INSTANCE,
    INIT_CHANNEL,
    STRATEGIES,
    TrainingSpec,
    as_text,
)
from training.search_space import SEARCH_SPACE

if TYPE_CHECKING:  # pragma: no cover
    import boto3

#: Commands that create SageMaker resources, which run under the execution role.
NEEDS_ROLE = ("train", "tune", "deploy", "update")
#: The SDK's errors for a job or endpoint that failed or timed out (not bugs: one line, no traceback).
SDK_STATUS_ERRORS = (
    "FailedStatusError",
    "TimeoutExceededError",
    "DeleteFailedStatusError",
    "UnexpectedStatusException",
    "CapacityError",
)


def _common(parser: argparse.ArgumentParser, role: bool = False, endpoint: bool = False) -> None:
    group = parser.add_argument_group("where")
    group.add_argument("--stage", default=DEFAULT_STAGE, help="stage in chalicelib/stages.json (default %(default)s)")
    group.add_argument("--region", help="AWS region (default: the stage's)")
    group.add_argument("--bucket", help="S3 bucket (default: the SDK's sagemaker-<region>-<account>)")
    group.add_argument("--prefix", default=DEFAULT_PREFIX, help="key prefix in the bucket (default %(default)s)")
    if role:
        group.add_argument("--role-arn", help=f"SageMaker execution role ARN (default ${ROLE_ENV})")
    if endpoint:
        group.add_argument("--endpoint-name", help="endpoint (default: the stage's endpoint_name)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show the SDK's log")


def _wait(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--wait", action=argparse.BooleanOptionalAction, default=True, help=f"wait until {what} (default: wait)"
    )


def _training(parser: argparse.ArgumentParser, tuned: bool) -> None:
    group = parser.add_argument_group("training job")
    group.add_argument("--instance-type", default=DEFAULT_TRAINING_INSTANCE, help="(default %(default)s)")
    group.add_argument(
        "--spot", action=argparse.BooleanOptionalAction, default=True, help="managed spot training (default: on)"
    )
    group.add_argument("--max-run-minutes", type=int, default=60, help="per job (default %(default)s)")
    group.add_argument(
        "--max-wait-minutes", type=int, default=120, help="per job, spot waits included, >= max run (default 120)"
    )
    group.add_argument("--epochs", type=int, default=12 if tuned else None, help="epochs per job")
    if not tuned:
        for param in SEARCH_SPACE:
            kind = {"float": float, "int": int}.get(param.kind) or type(param.choices[0])
            group.add_argument(f"--{param.name}", type=kind, help=f"training hyperparameter ({param.kind})")
    group.add_argument(
        "-H",
        "--hyperparameter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other argument of training/train.py, e.g. -H seed=7 (repeatable)",
    )
    group.add_argument("--feedback-channel", help="s3://.../: a feedback channel (docs/feedback-loop.md) to mix in")
    group.add_argument("--init-model", help="s3://.../model.tar.gz: start from this model (a fine-tune)")


def _model_source(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model (one of)").add_mutually_exclusive_group(required=True)
    group.add_argument("--model-data", help="s3://.../model.tar.gz")
    group.add_argument("--training-job", help="a completed training job: its model.tar.gz")
    group.add_argument("--tuning-job", help="a tuning job: its best training job's model.tar.gz")


def _container_env(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--container-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a variable of the model container's environment, e.g. SAGEMAKER_MODEL_SERVER_WORKERS=2 (repeatable;"
        " SAGEMAKER_TS_BATCH_SIZE other than 1 is refused: TorchServe batching breaks the service)",
    )


def _container_environment(args: argparse.Namespace) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in args.container_env:
        key, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise CloudError(f"--container-env expects KEY=VALUE with a variable name as the key, got {item!r}")
        values[key] = value
    return values


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.cloud", description="SageMaker workflow: data, spot training, tuning, endpoints."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    upload = commands.add_parser("upload-data", help="upload the MNIST training split to the training channel")
    upload.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder with the IDX .gz files")
    _common(upload)

    train = commands.add_parser("train", help="one training job (managed spot)")
    _training(train, tuned=False)
    _wait(train, "the job ends, streaming its log")
    _common(train, role=True)

    tune = commands.add_parser("tune", help="a hyperparameter tuning job over training/search_space.py")
    tune.add_argument("--strategy", choices=STRATEGIES, default="Bayesian", help="(default %(default)s)")
    tune.add_argument("--max-jobs", type=int, default=12, help="training jobs in all (default %(default)s)")
    tune.add_argument("--max-parallel-jobs", type=int, default=3, help="at the same time (default %(default)s)")
    tune.add_argument("--min-epochs", type=int, default=2, help="Hyperband: epochs before stopping (default 2)")
    _training(tune, tuned=True)
    _wait(tune, "the tuning job ends, then print the best job")
    _common(tune, role=True)

    best = commands.add_parser("best", help="a tuning job's best training job and its metrics")
    best.add_argument("tuning_job", help="tuning job name")
    _common(best)

    deploy = commands.add_parser(
        "deploy", help="create the endpoint (real-time or serverless), its autoscaling and alarms (idempotent)"
    )
    _model_source(deploy)
    capacity = deploy.add_argument_group("capacity")
    capacity.add_argument("--instance-type", default=DEFAULT_INSTANCE, help="real-time (default %(default)s)")
    capacity.add_argument("--instance-count", type=int, default=1, help="real-time (default %(default)s)")
    capacity.add_argument("--serverless", action="store_true", help="serverless instead of real-time instances")
    capacity.add_argument(
        "--memory-mb", type=int, default=2048, choices=SERVERLESS_MEMORY_SIZES, help="serverless (default %(default)s)"
    )
    capacity.add_argument("--max-concurrency", type=int, default=5, help="serverless (default %(default)s)")
    scaling = deploy.add_argument_group("autoscaling (real-time) and alarms")
    scaling.add_argument("--min-instances", type=int, help="(default: --instance-count)")
    scaling.add_argument("--max-instances", type=int, default=DEFAULT_MAX_INSTANCES, help="(default %(default)s)")
    scaling.add_argument(
        "--invocations-per-instance",
        type=int,
        default=DEFAULT_INVOCATIONS_PER_INSTANCE,
        help="target invocations per instance per minute (default %(default)s)",
    )
    scaling.add_argument(
        "--latency-alarm-ms", type=int, default=DEFAULT_LATENCY_MS, help="model latency p99 alarm (default %(default)s)"
    )
    scaling.add_argument("--alarm-topic-arn", help="SNS topic the alarms notify (default: none)")
    _container_env(deploy)
    _wait(deploy, "the endpoint is InService, then register autoscaling")
    _common(deploy, role=True, endpoint=True)

    update = commands.add_parser("update", help="switch the endpoint to a new model without downtime")
    _model_source(update)
    update.add_argument("--keep-old", action="store_true", help="keep the previous endpoint config and model")
    _container_env(update)
    _wait(update, "the endpoint is InService on the new model, then delete the old config and model")
    _common(update, role=True, endpoint=True)

    delete = commands.add_parser("delete", help="delete the endpoint, its autoscaling, alarms, configs and models")
    _common(delete, endpoint=True)
    return parser


def _hyperparameters(args: argparse.Namespace) -> dict[str, str]:
    values: dict[str, str] = {}
    for item in args.hyperparameter:
        key, sep, value = item.partition("=")
        if not sep or not re.fullmatch(r"[a-z][a-z0-9_\-]*", key) or not value:
            raise CloudError(f"-H expects KEY=VALUE with a lower-case key, got {item!r}")
        values[key.replace("_", "-")] = value
    for param in SEARCH_SPACE:
        value = getattr(args, param.name.replace("-", "_"), None)
        if value is not None:
            values[param.name] = str(value)
    if args.epochs is not None:
        if args.epochs < 1:
            raise CloudError("--epochs must be at least 1")
        values["epochs"] = str(args.epochs)
    return values


def _spec(args: argparse.Namespace) -> TrainingSpec:
    hyperparameters = _hyperparameters(args)
    if args.feedback_channel:
        check_s3_uri(args.feedback_channel, "--feedback-channel")
    if args.init_model:
        check_s3_uri(args.init_model, "--init-model")
        # SageMaker puts the channel's object in /opt/ml/input/data/<channel>/ under its own name.
        hyperparameters["init-model"] = f"/opt/ml/input/data/{INIT_CHANNEL}/{args.init_model.rsplit('/', 1)[1]}"
    return TrainingSpec(
        instance_type=args.instance_type,
        hyperparameters=hyperparameters,
        feedback_uri=args.feedback_channel,
        init_model_uri=args.init_model,
        spot=args.spot,
        max_run_minutes=args.max_run_minutes,
        max_wait_minutes=args.max_wait_minutes,
    )


def _model_data(cloud: Cloud, args: argparse.Namespace) -> str:
    from training.cloud.hosting import resolve_model_data

    return resolve_model_data(cloud, args.model_data, args.training_job, args.tuning_job)


def execute(args: argparse.Namespace, cloud: Cloud) -> dict[str, Any]:
    """Run the parsed command; returns its result."""
    from training.cloud import hosting, jobs

    if args.command == "upload-data":
        return {"training_channel": cloud.training_data_uri, "uploaded": jobs.upload_data(cloud, args.data_dir)}
    if args.command == "train":
        return jobs.train(cloud, _spec(args), wait=args.wait)
    if args.command == "tune":
        return jobs.tune(
            cloud,
            _spec(args),
            strategy=args.strategy,
            max_jobs=args.max_jobs,
            max_parallel_jobs=args.max_parallel_jobs,
            min_epochs=args.min_epochs,
            wait=args.wait,
        )
    if args.command == "best":
        return jobs.best(cloud, args.tuning_job)
    if args.command == "deploy":
        capacity = Capacity(
            instance_type=args.instance_type,
            instance_count=args.instance_count,
            serverless=args.serverless,
            memory_mb=args.memory_mb,
            max_concurrency=args.max_concurrency,
            scaling=Scaling(
                min_instances=args.instance_count if args.min_instances is None else args.min_instances,
                max_instances=args.max_instances,
                invocations_per_instance=args.invocations_per_instance,
            ),
        )
        capacity.validate()
        return hosting.deploy(
            cloud,
            _model_data(cloud, args),
            capacity,
            wait=args.wait,
            verbose=args.verbose,
            latency_alarm_ms=args.latency_alarm_ms,
            alarm_topic_arn=args.alarm_topic_arn,
            environment=_container_environment(args),
        )
    if args.command == "update":
        return hosting.update(
            cloud,
            _model_data(cloud, args),
            wait=args.wait,
            keep_old=args.keep_old,
            verbose=args.verbose,
            environment=_container_environment(args),
        )
    if args.command == "delete":
        return hosting.delete(cloud)
    raise AssertionError(args.command)  # argparse only lets known commands through


def user_error(error: BaseException) -> str | None:
    """The one-line message for an error the user can act on; None for a bug (shown with its traceback)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(error, CloudError):
        message = str(error)
    elif isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        message = f"AWS refused {error.operation_name}: {detail.get('Code')}: {detail.get('Message')}"
    elif isinstance(error, BotoCoreError):  # NoCredentialsError, NoRegionError, EndpointConnectionError, ...
        message = str(error)
    elif type(error).__name__ in SDK_STATUS_ERRORS and type(error).__module__.startswith("sagemaker."):
        message = f"{type(error).__name__}: {error}"
    else:
        return None
    return " ".join(message.split())


def configure_logging(verbose: bool) -> None:
    """Warnings only, unless ``--verbose``; set before the SDK's import, which would choose INFO."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    for name in ("sagemaker", "sagemaker.config"):
        logging.getLogger(name).setLevel(level)
    # Said when an SDK resource call gets the session but no region: it then uses the session's.
    logging.getLogger("sagemaker.core.utils.utils").addFilter(
        lambda record: not record.getMessage().startswith("No region provided")
    )


def run(argv: list[str] | None = None, boto_session: boto3.Session | None = None) -> int:
    """Parse ``argv``, run the command, print its JSON result; returns the exit status."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        settings = Settings.resolve(
            stage=args.stage,
            region=args.region,
            bucket=args.bucket,
            prefix=args.prefix,
            role_arn=getattr(args, "role_arn", None),
            endpoint_name=getattr(args, "endpoint_name", None),
            require_role=args.command in NEEDS_ROLE,
        )
        result = execute(args, connect(settings, boto_session))
    except Exception as error:
        message = user_error(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
    print(as_text(result))
    return 0


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(argv))

"""``python -m training.feedback``: export, gate, promote, rollback, status (``docs/feedback-loop.md``).

    python -m training.feedback export   --stage local                 # corrections -> .local/feedback/local
    python -m training.feedback gate     --challenger run/model.tar.gz # compare only, change nothing
    python -m training.feedback promote  --stage local --challenger run/model.tar.gz
    python -m training.feedback rollback --stage local
    python -m training.feedback status   --stage local

``--stage local`` works on the emulator (``AWS_ENDPOINT_URL``) and the local registry that ``make up``'s
endpoint follows; any other stage on AWS: the SageMaker Model Registry and the stage's endpoint.
Exit status: 0 done, 1 refused (no corrections, gate failed, nothing to roll back), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ops.stack import local_dir


def default_channel(stage: str) -> Path:
    return local_dir() / "feedback" / stage


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.feedback", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    def stage(command: argparse.ArgumentParser) -> None:
        command.add_argument("--stage", default="local", help="stage in chalicelib/stages.json (default local)")
        command.add_argument("--channel", type=Path, help="the feedback channel folder (default .local/feedback/STAGE)")

    def gate_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--challenger", required=True, help="model.tar.gz (or s3://..., training-job:NAME)")
        command.add_argument(
            "--strict",
            action="store_true",
            help="no net loss of validation images at all (default: none beyond chance)",
        )
        command.add_argument("--data-dir", help="folder with the MNIST IDX files (default: as for training)")

    export = commands.add_parser("export", help="corrected and confirmed predictions into the channel")
    stage(export)
    export.add_argument("--holdout", type=float, default=0.25, help="share held out for the gate (default 0.25)")
    export.add_argument("--s3-uri", help="also copy the channel there (s3://BUCKET/PREFIX/), for training jobs")
    gate = commands.add_parser("gate", help="compare a challenger with a champion; changes nothing")
    stage(gate)
    gate_options(gate)
    gate.add_argument("--champion", help="default: the model the stage serves")
    promote = commands.add_parser("promote", help="gate the challenger and, if it passes, make it serve")
    stage(promote)
    gate_options(promote)
    promote.add_argument("--role-arn", help="AWS stages: SageMaker execution role (default $SAGEMAKER_ROLE_ARN)")
    rollback = commands.add_parser("rollback", help="serve the previous approved version again")
    stage(rollback)
    rollback.add_argument("--role-arn", help="AWS stages: SageMaker execution role (default $SAGEMAKER_ROLE_ARN)")
    status = commands.add_parser("status", help="the registered versions and which one serves")
    stage(status)
    return parser


def _cloud(args: argparse.Namespace, require_role: bool) -> Any:
    from training.cloud.context import Settings, connect

    settings = Settings.resolve(stage=args.stage, role_arn=getattr(args, "role_arn", None), require_role=require_role)
    return connect(settings)


def execute(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """Run the command: (exit status, result to print)."""
    from chalicelib.config import load

    config = load(args.stage)
    os.environ.setdefault("AWS_DEFAULT_REGION", config.region)
    channel = args.channel or default_channel(args.stage)
    local = args.stage == "local"
    if args.command == "export":
        from chalicelib.store import PredictionStore
        from training.feedback.export import export, upload_channel

        report = export(PredictionStore(config), channel, args.holdout)
        result = report.as_dict()
        if args.s3_uri and report.total:
            result["uploaded"] = upload_channel(channel, args.s3_uri)
        return (0 if report.total else 1), result
    if args.command == "gate":
        from ops.model_source import resolve
        from training.feedback.gate import compare

        champion = args.champion or (_registry_serving() if local else _served_model_data(_cloud(args, False)))
        verdict = compare(resolve(args.challenger), resolve(champion), channel, args.strict, args.data_dir)
        return (0 if verdict.passed else 1), verdict.as_dict()
    if args.command == "promote":
        from ops.model_source import resolve

        if local:
            from training.feedback.registry import promote

            result = promote(resolve(args.challenger), channel, args.strict, args.data_dir)
        else:
            from training.feedback import model_registry

            result = model_registry.promote(_cloud(args, True), args.challenger, channel, args.strict, args.data_dir)
        return (0 if result["promoted"] else 1), result
    if args.command == "rollback":
        if local:
            from training.feedback.registry import rollback

            return 0, rollback()
        from training.feedback import model_registry

        return 0, model_registry.rollback(_cloud(args, True))
    if local:
        from training.feedback.registry import Registry

        return 0, Registry.load().as_dict()
    from training.feedback import model_registry

    return 0, model_registry.status(_cloud(args, False))


def _registry_serving() -> str:
    from training.feedback.registry import Registry

    return str(Registry.load().serving_archive())


def _served_model_data(cloud: Any) -> str:
    from training.feedback.model_registry import served_model_data

    return served_model_data(cloud)


def main(argv: list[str] | None = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from chalicelib.config import ConfigError
    from ops.model_source import ModelSourceError
    from training.cloud.context import CloudError
    from training.feedback.registry import RegistryError

    args = build_parser().parse_args(argv)
    try:
        code, result = execute(args)
    except (ConfigError, CloudError, RegistryError, ModelSourceError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError | ValueError) else 1
    except (ClientError, BotoCoreError) as exc:
        print(f"error: AWS: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=1, default=str))
    if isinstance(result, dict) and result.get("message"):
        print(result["message"], file=sys.stderr)
    return code

"""API Gateway throttling of a deployed stage: the step after ``chalice deploy``, which has no setting for it.

``python -m ops.throttling --stage dev`` sets the rate (requests per second, steady state) and the burst
(token-bucket size) of every method of the stage's REST API to ``api_rate_limit``/``api_burst_limit``
from ``stages.json`` (API Gateway ``UpdateStage``, method settings ``*/*``). Requests above them get
``429 Too Many Requests`` from API Gateway: they never reach the Lambda or the SageMaker endpoint.
Idempotent; run it after every ``chalice deploy`` (``docs/security.md``).

Which API: the one ``chalice deploy --stage <stage>`` recorded in ``chalice_app/.chalice/deployed/<stage>.json``,
read through Chalice's own config (so its ``api_gateway_stage``, ``api`` by default, is the stage changed).
The deployed functions' ARNs say where Chalice deployed (the shell's region): a region or account other
than the stage's (``region``, ``account_id``) is refused, because the functions would not find the
stage's tables and buckets and its IAM policy would not match.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from chalice.cli.factory import CLIFactory

from chalicelib.config import StageConfig, load
from ops.emulator import ROOT
from ops.errors import OpsError

CHALICE_PROJECT = ROOT / "chalice_app"
#: Method settings key for every resource and method of a stage.
ALL_METHODS = "*/*"


@dataclass(frozen=True)
class DeployedApi:
    """The REST API ``chalice deploy`` created for a stage, and where."""

    rest_api_id: str
    #: API Gateway's stage (Chalice's ``api_gateway_stage``), not the Chalice stage.
    stage_name: str
    region: str
    account: str


def deployed_api(stage: str, project_dir: Path = CHALICE_PROJECT) -> DeployedApi:
    """Read ``.chalice/deployed/<stage>.json`` the way ``chalice url`` does. Raises OpsError when absent."""
    chalice_config = CLIFactory(str(project_dir)).create_config_obj(chalice_stage_name=stage)
    deployed = chalice_config.deployed_resources(stage)
    if deployed is None or "rest_api" not in deployed.resource_names():
        raise OpsError(f"no REST API deployed for stage {stage!r}: run `chalice deploy --stage {stage}` first")
    rest_api = deployed.resource_values("rest_api")
    # arn:<partition>:lambda:<region>:<account>:function:<name>
    _, _, _, region, account, _ = deployed.resource_values("api_handler")["lambda_arn"].split(":", 5)
    return DeployedApi(rest_api["rest_api_id"], chalice_config.api_gateway_stage, region, account)


def patch_operations(rate_limit: float, burst_limit: int) -> list[dict[str, str]]:
    """``UpdateStage`` operations that throttle every method of a stage."""
    return [
        {"op": "replace", "path": f"/{ALL_METHODS}/throttling/rateLimit", "value": str(rate_limit)},
        {"op": "replace", "path": f"/{ALL_METHODS}/throttling/burstLimit", "value": str(burst_limit)},
    ]


def apply(config: StageConfig, api: DeployedApi, session: boto3.Session) -> dict[str, Any]:
    """Throttle ``api`` as ``config`` says; return the stage's method settings for ``*/*`` afterwards."""
    if api.region != config.region:
        raise OpsError(
            f"stage {config.stage!r} is deployed in {api.region}, but stages.json says {config.region}: "
            f"redeploy with AWS_DEFAULT_REGION={config.region} (or change region in stages.json)"
        )
    if config.account_id is not None and api.account != config.account_id:
        raise OpsError(f"stage {config.stage!r} is deployed in account {api.account}, not {config.account_id}")
    if config.api_rate_limit is None or config.api_burst_limit is None:
        raise OpsError(f"stage {config.stage!r} has no api_rate_limit/api_burst_limit in stages.json")
    apigateway = session.client("apigateway", region_name=api.region)
    stage = apigateway.update_stage(
        restApiId=api.rest_api_id,
        stageName=api.stage_name,
        patchOperations=patch_operations(config.api_rate_limit, config.api_burst_limit),
    )
    return stage["methodSettings"][ALL_METHODS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default=None, help="stage from stages.json (default $DIGITS_STAGE or local)")
    parser.add_argument("--project-dir", type=Path, default=CHALICE_PROJECT, help="the Chalice project")
    args = parser.parse_args(argv)
    try:
        config = load(args.stage)
        if config.api_rate_limit is None:
            print(f"throttling: stage {config.stage!r} sets no API limits (stages.json): nothing to do")
            return 0
        api = deployed_api(config.stage, args.project_dir)
        settings = apply(config, api, boto3.Session(region_name=config.region))
    except (OpsError, ValueError) as exc:
        print(f"throttling: error: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"throttling: AWS refused or could not be reached: {exc}", file=sys.stderr)
        return 1
    print(
        f"throttled {api.rest_api_id}/{api.stage_name} ({api.region}): "
        f"{settings['throttlingRateLimit']:g} requests/s, burst {settings['throttlingBurstLimit']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

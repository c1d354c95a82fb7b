"""Deploy a stage the way users deploy it: ``python -m ops.deploy --stage dev`` (``make deploy-local``: the
local stage, into the running emulator).

One command, four idempotent steps; a deployment that failed half-way is finished by running it again:

1. what ``python -m ops.provision`` does: refuse AWS credentials of another account than the stage's
   ``account_id``, create buckets, tables and the inbox dead-letter queue (SQS), write the stage's IAM
   policy file (:mod:`ops.policies`);
2. ``chalice deploy --stage <stage>``, through Chalice's own CLI factory and deployer (the same
   deployment package, IAM roles, Lambda functions, S3 notification and REST API as the ``chalice``
   command), in the stage's region whatever the shell's default;
3. the API's throttling (:mod:`ops.throttling`, the stage's ``api_rate_limit``/``api_burst_limit``),
   when the stage sets it;
4. :func:`wire_inbox_failures`: the S3 function's asynchronous invoke configuration, so that S3 events
   it still fails on after Lambda's retries go to the dead-letter queue instead of being dropped
   (``MaximumRetryAttempts``, ``MaximumEventAgeInSeconds``, on-failure destination), and the one
   permission that needs, ``sqs:SendMessage`` on that queue only, as an inline policy of that
   function's own role. ``python -m ops.redrive`` replays what lands there.

``--delete`` takes the Chalice app down again (``chalice delete``: functions, roles, REST API, the
bucket's Lambda notification); buckets, tables and queues stay (they hold data).

Against the emulator (``AWS_ENDPOINT_URL`` set): ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``, when set, is
passed into the functions' environment so that the deployed code reaches the local endpoint server;
and the REST API of an earlier deployment is deleted first, because MiniStack cannot update one
(PutRestApi is missing there; ImportRestApi creates an unusable one, so ``chalice local`` serves the
routes locally). Neither happens against AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.config import StageConfig, load
from ops import throttling
from ops.emulator import ROOT
from ops.errors import OpsError
from ops.policies import check_account, policy_path
from ops.policies import write as write_policy
from ops.provision import provision

CHALICE_DIR = ROOT / "chalice_app"
INBOX_FUNCTION = "handle_inbox_upload"
#: Lambda's own default: the event is tried three times in all before it goes to the dead-letter queue.
MAXIMUM_RETRY_ATTEMPTS = 2
#: An event still undelivered after an hour (throttled, function unavailable) goes there too.
MAXIMUM_EVENT_AGE_S = 3600
FAILURES_POLICY = "inbox-failures-to-dead-letter-queue"
#: A new inline role policy takes a few seconds to be seen by Lambda's destination check.
PERMISSION_WAIT_S = (1, 2, 4, 8, 15)
RUNTIME_ENDPOINT = "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"


@dataclass
class Deployment:
    """What :func:`deploy` did: provisioning report, Chalice's deployed resources, the failure wiring."""

    stage: str
    provisioned: dict[str, list[str]] = field(default_factory=dict)
    resources: list[dict[str, Any]] = field(default_factory=list)
    throttling: dict[str, Any] | None = None
    inbox_failures: dict[str, Any] = field(default_factory=dict)

    def resource(self, name: str) -> dict[str, Any]:
        found = [r for r in self.resources if r["name"] == name]
        if not found:
            raise OpsError(f"chalice deploy reported no resource {name!r}")
        return found[0]


def on_emulator() -> bool:
    """True when boto3 is pointed at a local emulator (``AWS_ENDPOINT_URL``), not at AWS."""
    return bool(os.environ.get("AWS_ENDPOINT_URL"))


def _chalice_factory(project_dir: Path) -> Any:
    from chalice.cli.factory import CLIFactory

    return CLIFactory(str(project_dir), environ=os.environ)


def chalice_deploy(
    stage: str, region: str, project_dir: Path = CHALICE_DIR, environment: dict[str, str] | None = None
) -> dict:
    """``chalice deploy --stage <stage>`` into ``region`` (Chalice's factory and deployer); returns the
    deployed values.

    ``environment`` is added to every function's environment variables (on top of the stage's).
    """
    from chalice.utils import UI

    factory = _chalice_factory(project_dir)
    params = {"environment_variables": dict(environment)} if environment else None
    config = factory.create_config_obj(chalice_stage_name=stage, user_provided_params=params)
    session = factory.create_botocore_session()
    session.set_config_variable("region", region)
    if on_emulator():
        _drop_emulated_rest_api(project_dir, stage)
    deployer = factory.create_default_deployer(session=session, config=config, ui=UI())
    deployed = deployer.deploy(config, chalice_stage_name=stage)
    factory.create_deployment_reporter(ui=UI()).display_report(deployed)
    return deployed


def chalice_delete(stage: str, region: str, project_dir: Path = CHALICE_DIR) -> None:
    """``chalice delete --stage <stage>``: what ``chalice deploy`` created, as its deployed state records."""
    from chalice.utils import UI

    factory = _chalice_factory(project_dir)
    config = factory.create_config_obj(chalice_stage_name=stage)
    session = factory.create_botocore_session()
    session.set_config_variable("region", region)
    deleter = factory.create_deletion_deployer(session=session, ui=UI())
    deleter.deploy(config, chalice_stage_name=stage)


def _drop_emulated_rest_api(project_dir: Path, stage: str) -> None:
    """Delete the REST API an earlier emulator deployment recorded, so Chalice creates a new one."""
    state = project_dir / ".chalice" / "deployed" / f"{stage}.json"
    if not state.exists():
        return
    for resource in json.loads(state.read_text()).get("resources", []):
        if resource.get("resource_type") == "rest_api":
            try:
                boto3.client("apigateway").delete_rest_api(restApiId=resource["rest_api_id"])
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "NotFoundException":
                    raise


def queue_arn(sqs: Any, name: str) -> str:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def failures_policy(dead_letter_arn: str) -> dict[str, Any]:
    """The one permission Lambda's on-failure destination needs from the function's role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "InboxFailuresToDeadLetterQueue", "Effect": "Allow", "Action": "sqs:SendMessage",
             "Resource": dead_letter_arn}
        ],
    }  # fmt: skip


def wire_inbox_failures(
    config: StageConfig, function_arn: str, role_name: str, session: boto3.Session | None = None
) -> dict[str, Any]:
    """Send what the inbox function still fails on after its retries to the stage's dead-letter queue.

    Puts the role's inline policy, then the function's asynchronous invoke configuration (both replace
    what was there: running it again is harmless). Returns the invoke configuration as sent.
    """
    session = session or boto3.Session(region_name=config.region)
    dead_letter_arn = queue_arn(session.client("sqs"), config.inbox_dead_letter_queue)
    session.client("iam").put_role_policy(
        RoleName=role_name, PolicyName=FAILURES_POLICY, PolicyDocument=json.dumps(failures_policy(dead_letter_arn))
    )
    invoke_config = {
        "FunctionName": function_arn,
        "MaximumRetryAttempts": MAXIMUM_RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": MAXIMUM_EVENT_AGE_S,
        "DestinationConfig": {"OnFailure": {"Destination": dead_letter_arn}},
    }
    lambda_client = session.client("lambda")
    for wait_s in (*PERMISSION_WAIT_S, None):
        try:
            lambda_client.put_function_event_invoke_config(**invoke_config)
            break
        except ClientError as exc:
            # Lambda checks the role can SendMessage; a policy put seconds ago may not be visible yet.
            if wait_s is None or exc.response.get("Error", {}).get("Code") != "InvalidParameterValueException":
                raise
            time.sleep(wait_s)
    return invoke_config


def deploy(config: StageConfig, project_dir: Path = CHALICE_DIR, session: boto3.Session | None = None) -> Deployment:
    """Provision, ``chalice deploy``, throttle the API, wire the inbox function's failures: the whole stage,
    idempotently (the steps of this module's docstring)."""
    session = session or boto3.Session(region_name=config.region)
    check_account(config, session)
    report = provision(config, session)
    report.add(f"iam policy {policy_path(config.stage).name}", write_policy(load(config.stage, environ={})))
    result = Deployment(config.stage, {"created": report.created, "existed": report.existed})
    environment = {}
    if on_emulator() and os.environ.get(RUNTIME_ENDPOINT):
        environment[RUNTIME_ENDPOINT] = os.environ[RUNTIME_ENDPOINT]
    result.resources = chalice_deploy(config.stage, config.region, project_dir, environment)["resources"]
    if config.api_rate_limit is not None:
        result.throttling = throttling.apply(config, throttling.deployed_api(config.stage, project_dir), session)
    function = result.resource(INBOX_FUNCTION)["lambda_arn"]
    role = result.resource(f"{INBOX_FUNCTION}_role")["role_name"]
    result.inbox_failures = wire_inbox_failures(config, function, role, session)
    return result


def undeploy(config: StageConfig, project_dir: Path = CHALICE_DIR, session: boto3.Session | None = None) -> None:
    """Take the Chalice app down (``chalice delete``); the provisioned buckets, tables and queues stay."""
    session = session or boto3.Session(region_name=config.region)
    state = project_dir / ".chalice" / "deployed" / f"{config.stage}.json"
    if not state.exists():
        return
    roles = [
        r["role_name"] for r in json.loads(state.read_text())["resources"] if r["name"] == f"{INBOX_FUNCTION}_role"
    ]
    for role in roles:  # Chalice deletes a role with its own inline policy only: ours goes first
        try:
            session.client("iam").delete_role_policy(RoleName=role, PolicyName=FAILURES_POLICY)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
    chalice_delete(config.stage, config.region, project_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True, help="stage from stages.json (local: the emulator)")
    parser.add_argument("--delete", action="store_true", help="take the Chalice app down instead")
    parser.add_argument("--project-dir", type=Path, default=CHALICE_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        config = load(args.stage)
        if args.stage == "local" and not on_emulator():
            raise OpsError("the local stage deploys into the emulator: set AWS_ENDPOINT_URL (`make deploy-local`)")
        if args.delete:
            undeploy(config, args.project_dir)
            print(json.dumps({"stage": config.stage, "deleted": True}))
            return 0
        result = deploy(config, args.project_dir)
    except (OpsError, ValueError) as exc:
        print(f"deploy: error: {exc}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as exc:
        print(f"deploy: AWS refused or is unreachable: {exc}; run it again once fixed", file=sys.stderr)
        return 1
    except Exception as exc:  # Chalice wraps AWS errors in ChaliceDeploymentError
        if type(exc).__name__ != "ChaliceDeploymentError":
            raise
        print(f"deploy: chalice deploy failed: {' '.join(str(exc).split())}; run it again once fixed", file=sys.stderr)
        return 1
    print(json.dumps(vars(result), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

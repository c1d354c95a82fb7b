"""Deployment configuration: Chalice stages = stages.json, least-privilege IAM policies, prod auth.

The stage-dependent parts are checked the way ``chalice deploy --stage <stage>`` sees them: the app is
loaded by Chalice's own CLI factory (which applies the stage's environment variables before importing
``app.py``) in a fresh interpreter, and the Swagger document API Gateway would receive is generated.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import boto3
import pytest
from moto import mock_aws

from chalicelib import config, store
from ops import policies
from ops.emulator import ROOT
from ops.errors import OpsError

pytestmark = pytest.mark.unit

CHALICE_DIR = ROOT / "chalice_app"
CHALICE_CONFIG = json.loads((CHALICE_DIR / ".chalice" / "config.json").read_text())
STAGES = config.stage_names()

_INSPECT = """
import json, os, sys
from chalice.cli.factory import CLIFactory
from chalice.deploy.swagger import SwaggerGenerator
stage = sys.argv[1]
factory = CLIFactory(sys.argv[2], environ=os.environ)
app = factory.create_config_obj(chalice_stage_name=stage).chalice_app
deployed = {"api_handler_arn": "arn:aws:lambda:us-east-1:1:function:x"}
swagger = SwaggerGenerator("us-east-1", deployed).generate_swagger(app)
s3 = [{"bucket": s.bucket, "prefix": s.prefix, "events": s.events} for s in app.event_sources]
print(json.dumps({"swagger": swagger, "s3": s3}))
"""


def deployed_view(stage: str) -> dict:
    """What ``chalice deploy --stage <stage>`` would deploy: the Swagger document and S3 triggers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITS_")}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    out = subprocess.run(
        [sys.executable, "-c", _INSPECT, stage, str(CHALICE_DIR)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize("stage", STAGES)
def test_chalice_stage_names_the_stages_json_resources(stage: str):
    stage_config = config.load(stage, environ={})
    env = CHALICE_CONFIG["stages"][stage]["environment_variables"]
    assert env["DIGITS_STAGE"] == stage
    for field in ("inbox_bucket", "results_bucket", "predictions_table", "idempotency_table", "endpoint_name"):
        assert env[f"DIGITS_{field.upper()}"] == getattr(stage_config, field), field
    assert env["POWERTOOLS_LOG_LEVEL"] == stage_config.log_level
    assert env["POWERTOOLS_SERVICE_NAME"]
    # Loading the stage through config.load with exactly these variables gives the same names.
    assert config.load(environ=env) == stage_config


def test_every_stage_is_configured_and_autogen_policy_is_off():
    assert set(CHALICE_CONFIG["stages"]) == set(STAGES)
    assert CHALICE_CONFIG["autogen_policy"] is False


@pytest.mark.parametrize("stage", STAGES)
def test_policy_is_least_privilege(stage: str):
    stage_config = config.load(stage, environ={})
    policy_file = CHALICE_CONFIG["stages"][stage]["iam_policy_file"]
    assert policy_file == f"policy-{stage}.json"
    policy = json.loads((CHALICE_DIR / ".chalice" / policy_file).read_text())
    assert_least_privilege(policy, stage_config)


@pytest.mark.parametrize("stage", STAGES)
def test_committed_policies_are_what_the_generator_writes(stage: str):
    stage_config = config.load(stage, environ={})
    assert (CHALICE_DIR / ".chalice" / f"policy-{stage}.json").read_text() == policies.policy_text(stage_config)
    assert policies.main(["--check"]) == 0


def test_the_template_names_no_region_and_no_account():
    text = policies.TEMPLATE.read_text()
    assert not re.search(r"[a-z]{2}(-gov)?-[a-z]+-\d", text), "a region in the policy template"
    assert not re.search(r"\d{12}", text), "an account id in the policy template"
    assert "arn:aws:" not in text  # the partition differs in China and GovCloud


@pytest.mark.parametrize(
    ("region", "account", "partition"),
    [
        ("eu-central-1", "123456789012", "aws"),
        ("ap-southeast-2", None, "aws"),
        ("cn-north-1", "210987654321", "aws-cn"),
    ],
)
@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_policies_follow_the_stage_region_and_account(stage: str, region: str, account: str | None, partition: str):
    environ = {"DIGITS_REGION": region} | ({"DIGITS_ACCOUNT_ID": account} if account else {})
    stage_config = config.load(stage, environ=environ)
    policy = policies.render(stage_config)
    assert_least_privilege(policy, stage_config)
    for arn in (r for s in policy["Statement"] for r in listify(s["Resource"])):
        if arn == "*":
            continue
        _, arn_partition, service, arn_region, arn_account, _ = arn.split(":", 5)
        assert arn_partition == partition, arn
        if service == "s3":  # bucket ARNs name neither region nor account
            assert (arn_region, arn_account) == ("", ""), arn
        else:
            assert (arn_region, arn_account) == (region, account or "*"), arn


def test_provision_refuses_credentials_of_another_account(monkeypatch: pytest.MonkeyPatch):
    """``account_id`` set: ``python -m ops.provision`` stops before creating anything in the wrong account."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)  # the emulator's, when another test started it
    stage_config = config.load("dev", environ={"DIGITS_ACCOUNT_ID": "123456789012"})
    with mock_aws():  # moto's caller identity is account 123456789012
        policies.check_account(stage_config, boto3.Session(region_name="us-east-1"))
        other = config.load("dev", environ={"DIGITS_ACCOUNT_ID": "210987654321"})
        with pytest.raises(OpsError, match="account 123456789012, but stage 'dev' deploys to 210987654321"):
            policies.check_account(other, boto3.Session(region_name="us-east-1"))


def listify(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def assert_least_privilege(policy: dict, stage_config: config.StageConfig) -> None:
    policy_file = f"the {stage_config.stage} policy"
    actions: dict[str, list] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        listed, resources = listify(statement["Action"]), listify(statement["Resource"])
        for action in listed:
            assert "*" not in action, f"wildcard action {action} in {policy_file}"
            actions.setdefault(action, []).extend(resources)
        if not all(a.startswith("xray:") for a in listed):  # X-Ray has no resource-level permissions
            assert "*" not in resources, f"{listed} on every resource in {policy_file}"
    inbox, results = stage_config.inbox_bucket, stage_config.results_bucket
    partition = "aws-cn" if stage_config.region.startswith("cn-") else "aws"
    s3 = f"arn:{partition}:s3:::"
    assert sorted(actions["s3:GetObject"]) == [f"{s3}{inbox}/{stage_config.inbox_prefix}*", f"{s3}{results}/images/*"]
    uploads = f"{s3}{inbox}/{stage_config.inbox_prefix}{store.UPLOADS_FOLDER}*"  # presigned upload forms
    assert sorted(actions["s3:PutObject"]) == [uploads, f"{s3}{results}/images/*", f"{s3}{results}/results/*"]
    assert sorted(actions["s3:ListBucket"]) == [f"{s3}{inbox}", f"{s3}{results}"]  # HeadBucket, 404 vs 403
    account = stage_config.account_id or "*"
    assert actions["sagemaker:InvokeEndpoint"] == [
        f"arn:{partition}:sagemaker:{stage_config.region}:{account}:endpoint/{stage_config.endpoint_name}"
    ]
    tables = {r.split(":table/")[1].split("/")[0] for a, rs in actions.items() if a.startswith("dynamodb:") for r in rs}
    assert tables == {stage_config.predictions_table, stage_config.idempotency_table}
    assert not any(a in actions for a in ("dynamodb:Scan", "s3:DeleteObject", "dynamodb:DeleteTable"))
    assert set(actions) <= {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:ListBucket",
        "s3:PutObject",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
        "dynamodb:DeleteItem",
        "sagemaker:InvokeEndpoint",
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_deploy_wires_the_stage_inbox_bucket_and_auth(stage: str):
    view = deployed_view(stage)
    stage_config = config.load(stage, environ={})
    assert view["s3"] == [{"bucket": stage_config.inbox_bucket, "prefix": "inbox/", "events": ["s3:ObjectCreated:*"]}]
    swagger = view["swagger"]
    assert "image/png" in swagger["x-amazon-apigateway-binary-media-types"]
    operations = {
        (path, method): spec
        for path, methods in swagger["paths"].items()
        for method, spec in methods.items()
        if method != "options"
    }
    assert ("/predict", "post") in operations and ("/health", "get") in operations
    assert stage_config.api_auth == "iam"  # no stage in AWS is open: see docs/security.md
    for (path, _method), spec in operations.items():
        secured = spec.get("security") == [{"sigv4": []}]
        if path not in ("/health", "/openapi.json"):
            assert secured, f"{path} is open in {stage}"
        else:
            assert not secured, f"{path} requires auth in {stage}"
    assert swagger["securityDefinitions"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"

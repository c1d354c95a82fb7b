"""API Gateway throttling after ``chalice deploy``: the UpdateStage payload and its effect, on moto.

A Chalice project in a temporary folder holds the real ``.chalice/config.json`` and a
``deployed/<stage>.json`` like the one ``chalice deploy`` writes, naming a REST API created in moto.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from chalicelib import config
from ops import throttling
from ops.errors import OpsError

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"  # moto's account


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):  # the emulator's, when another test started it
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


def deploy_api(region: str) -> str:
    """A REST API with one method, deployed to API Gateway stage ``api`` (what Chalice creates)."""
    apigw = boto3.client("apigateway", region_name=region)
    api_id = apigw.create_rest_api(name="digits")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="AWS_IAM")
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    apigw.create_deployment(restApiId=api_id, stageName="api")
    return api_id


def chalice_project(tmp_path: Path, stage: str, api_id: str, region: str) -> Path:
    """The repository's Chalice config plus the record ``chalice deploy --stage <stage>`` leaves."""
    project = tmp_path / "chalice_app"
    (project / ".chalice" / "deployed").mkdir(parents=True)
    shutil.copy(throttling.CHALICE_PROJECT / ".chalice" / "config.json", project / ".chalice" / "config.json")
    resources = [
        {
            "name": "api_handler",
            "resource_type": "lambda_function",
            "lambda_arn": f"arn:aws:lambda:{region}:{ACCOUNT}:function:digits-{stage}",
        },
        {
            "name": "rest_api",
            "resource_type": "rest_api",
            "rest_api_id": api_id,
            "rest_api_url": f"https://{api_id}.execute-api.{region}.amazonaws.com/api/",
        },
    ]
    deployed = {"resources": resources, "schema_version": "2.0", "backend": "api"}
    (project / ".chalice" / "deployed" / f"{stage}.json").write_text(json.dumps(deployed))
    return project


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_stage_limits_go_to_every_method_of_the_deployed_stage(stage: str, moto, tmp_path: Path):
    stage_config = config.load(stage, environ={})
    api_id = deploy_api(stage_config.region)
    api = throttling.deployed_api(stage, chalice_project(tmp_path, stage, api_id, stage_config.region))
    assert api == throttling.DeployedApi(api_id, "api", stage_config.region, ACCOUNT)

    session = boto3.Session(region_name=stage_config.region)
    sent: list[dict] = []
    session.events.register("provide-client-params.apigateway.UpdateStage", lambda params, **_: sent.append(params))
    settings = throttling.apply(stage_config, api, session)

    rate, burst = stage_config.api_rate_limit, stage_config.api_burst_limit
    assert sent == [
        {
            "restApiId": api_id,
            "stageName": "api",
            "patchOperations": [
                {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": str(rate)},
                {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": str(burst)},
            ],
        }
    ]
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (rate, burst)
    stored = boto3.client("apigateway", region_name=stage_config.region).get_stage(restApiId=api_id, stageName="api")
    assert stored["methodSettings"]["*/*"]["throttlingRateLimit"] == rate
    assert stored["methodSettings"]["*/*"]["throttlingBurstLimit"] == burst


def test_the_command_after_chalice_deploy(moto, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    dev = config.load("dev", environ={})
    api_id = deploy_api(dev.region)
    project = chalice_project(tmp_path, "dev", api_id, dev.region)
    for _ in range(2):  # idempotent: every deploy runs it again
        assert throttling.main(["--stage", "dev", "--project-dir", str(project)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == (
        f"throttled {api_id}/api ({dev.region}): {dev.api_rate_limit:g} requests/s, burst {dev.api_burst_limit}"
    )


def test_a_deployment_in_another_region_is_refused(moto, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    api_id = deploy_api("eu-west-1")
    project = chalice_project(tmp_path, "dev", api_id, "eu-west-1")
    assert throttling.main(["--stage", "dev", "--project-dir", str(project)]) == 1
    err = capsys.readouterr().err
    assert "deployed in eu-west-1, but stages.json says us-east-1" in err
    stage = boto3.client("apigateway", region_name="eu-west-1").get_stage(restApiId=api_id, stageName="api")
    assert "*/*" not in stage.get("methodSettings", {})


def test_a_deployment_in_another_account_is_refused(moto, tmp_path: Path):
    dev = config.load("dev", environ={"DIGITS_ACCOUNT_ID": "210987654321"})
    api_id = deploy_api(dev.region)
    api = throttling.deployed_api("dev", chalice_project(tmp_path, "dev", api_id, dev.region))
    with pytest.raises(OpsError, match="deployed in account 123456789012, not 210987654321"):
        throttling.apply(dev, api, boto3.Session(region_name=dev.region))


def test_before_the_first_deploy_it_says_what_to_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    project = tmp_path / "chalice_app"
    (project / ".chalice").mkdir(parents=True)
    shutil.copy(throttling.CHALICE_PROJECT / ".chalice" / "config.json", project / ".chalice" / "config.json")
    assert throttling.main(["--stage", "prod", "--project-dir", str(project)]) == 1
    assert "run `chalice deploy --stage prod` first" in capsys.readouterr().err


def test_the_local_stage_has_nothing_to_throttle(capsys: pytest.CaptureFixture[str]):
    assert throttling.main(["--stage", "local"]) == 0
    assert "nothing to do" in capsys.readouterr().out

"""The SageMaker workflow CLI (``python -m training.cloud``): exactly what it sends to AWS.

No AWS here, so every command runs for real through the SageMaker SDK v3 against moto's in-process
AWS (``mock_aws``: the SDK also uploads code to S3), and the tests read the SageMaker API requests
the SDK sends, recorded on the boto3 session (``provide-client-params.sagemaker.*``). Two fixes make
moto answer like AWS: empty dicts it returns (``VpcConfig: {}``, ``DataCaptureConfig: {}``) are
dropped, as the SDK's models reject them, and UpdateEndpoint, which moto does not implement, is
answered at the botocore level (``before-call``) after the request was recorded and switches moto's
endpoint to the new configuration.

The metric regexes are checked against the real log of the training entry script, run from the same
staged source folder a training job receives.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from training.cloud.cli import run
from training.cloud.entry_point import container_defaults
from training.cloud.source import ENTRY_SCRIPT, stage_source
from training.metrics import METRIC_DEFINITIONS
from training.search_space import OBJECTIVE_METRIC, SEARCH_SPACE

# The SDK imports its own deprecated shims (sagemaker.train.configs, ...): their warnings are not ours.
pytestmark = [pytest.mark.unit, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"  # the dev stage's region
ACCOUNT = "123456789012"  # moto's account
ROLE = f"arn:aws:iam::{ACCOUNT}:role/DigitsSageMaker"
BUCKET = "digits-sagemaker-test"
ENDPOINT = "digits-dev"  # the dev stage's endpoint_name
TRAINING_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.10-cpu-py313"
INFERENCE_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6-cpu-py312"
MODEL_DATA = f"s3://{BUCKET}/models/first/model.tar.gz"
WHERE = ["--bucket", BUCKET, "--role-arn", ROLE]


@dataclass
class Requests:
    """SageMaker (and Application Auto Scaling, CloudWatch) API requests in the order they were sent."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.sent.append((model.name, json.loads(json.dumps(params, default=str))))

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.sent if name == operation]

    def one(self, operation: str) -> dict[str, Any]:
        found = self.of(operation)
        assert len(found) == 1, f"{operation} sent {len(found)} times: {self.names()}"
        return found[0]

    def names(self) -> list[str]:
        return [name for name, _ in self.sent]

    def clear(self) -> None:
        self.sent.clear()


def _drop_empty_dicts(parsed: dict[str, Any] | None = None, **_: Any) -> None:
    for key in [key for key, value in (parsed or {}).items() if value == {}]:
        del parsed[key]


def _moto_update_endpoint(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
    """UpdateEndpoint for moto (which lacks it): point the endpoint at the new configuration."""
    from moto.sagemaker.models import sagemaker_backends

    request = json.loads(params["body"])  # the serialized request: the API parameters as JSON
    backend = sagemaker_backends[ACCOUNT][REGION]
    endpoint = backend.endpoints[request["EndpointName"]]
    backend.describe_endpoint_config(request["EndpointConfigName"])  # raises when it does not exist
    endpoint.endpoint_config_name = request["EndpointConfigName"]
    return AWSResponse(f"https://api.sagemaker.{REGION}.amazonaws.com/", 200, {}, None), {"EndpointArn": endpoint.arn}


@pytest.fixture(scope="module")
def aws_env() -> Iterator[None]:
    """Offline AWS settings for the module: fake credentials, no endpoint redirection, no local config."""
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(("AWS_", "DIGITS_")) or key in ("SAGEMAKER_ROLE_ARN",):
                mp.delenv(key)
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_CONFIG_FILE", "/nonexistent")
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        mp.setenv("SAGEMAKER_VALIDATE_ROLE", "false")
        yield


@pytest.fixture
def sagemaker(aws_env: None) -> Iterator[tuple[boto3.Session, Requests]]:
    """moto's AWS with our bucket, a boto3 session for the CLI and the requests it sends to SageMaker."""
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        requests = Requests()
        session.events.register("provide-client-params.sagemaker.*", requests.record)
        session.events.register("provide-client-params.application-auto-scaling.*", requests.record)
        session.events.register("provide-client-params.cloudwatch.*", requests.record)
        session.events.register("after-call.sagemaker.*", _drop_empty_dicts)
        session.events.register("before-call.sagemaker.UpdateEndpoint", _moto_update_endpoint)
        session.client("s3").create_bucket(Bucket=BUCKET)
        yield session, requests


def cli(session: boto3.Session, capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    """Run the CLI in-process on ``session``; returns its JSON result (fails on a non-zero status)."""
    status = run(list(argv), boto_session=session)
    out, err = capsys.readouterr()
    assert status == 0, err
    return json.loads(out)


def cli_error(session: boto3.Session | None, capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the CLI expecting a user error; returns the one line it printed."""
    status = run(list(argv), boto_session=session)
    out, err = capsys.readouterr()
    assert status == 1 and not out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def s3_bytes(session: boto3.Session, uri: str) -> bytes:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def s3_keys(session: boto3.Session, uri: str) -> list[str]:
    bucket, prefix = uri.removeprefix("s3://").split("/", 1)
    listing = session.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix.rstrip("/") + "/")
    return [obj["Key"].removeprefix(prefix.rstrip("/") + "/") for obj in listing.get("Contents", [])]


def expected_ranges() -> dict[str, list[dict[str, Any]]]:
    """SEARCH_SPACE as the CreateHyperParameterTuningJob ranges it must become (values as numbers)."""
    ranges: dict[str, list[dict[str, Any]]] = {"ContinuousParameterRanges": [], "CategoricalParameterRanges": []}
    for p in SEARCH_SPACE:
        if p.kind == "float":
            scaling = "Logarithmic" if p.log else "Linear"
            ranges["ContinuousParameterRanges"].append(
                {"Name": p.name, "MinValue": p.low, "MaxValue": p.high, "ScalingType": scaling}
            )
        else:
            assert p.kind == "categorical", "extend this test for integer ranges"
            ranges["CategoricalParameterRanges"].append({"Name": p.name, "Values": [str(c) for c in p.choices]})
    return ranges


def sent_ranges(config: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    sent = {k: v for k, v in config["ParameterRanges"].items() if v}
    for item in sent.get("ContinuousParameterRanges", []):
        item["MinValue"], item["MaxValue"] = float(item["MinValue"]), float(item["MaxValue"])
    return sent


def assert_spot_training(definition: dict[str, Any], checkpoint_prefix: str) -> None:
    assert definition["EnableManagedSpotTraining"] is True
    stopping = definition["StoppingCondition"]
    assert stopping["MaxWaitTimeInSeconds"] >= stopping["MaxRuntimeInSeconds"] == 3600
    assert definition["CheckpointConfig"]["S3Uri"].startswith(checkpoint_prefix)
    assert definition["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert definition["AlgorithmSpecification"]["TrainingImage"] == TRAINING_IMAGE
    assert definition["AlgorithmSpecification"]["MetricDefinitions"] == METRIC_DEFINITIONS
    assert definition["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/digits/output"
    assert definition["RoleArn"] == ROLE
    assert definition["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in definition["InputDataConfig"]}
    assert channels["training"] == f"s3://{BUCKET}/digits/data/training/"


def assert_source(names: list[str]) -> None:
    """The uploaded code: entry point, both packages, requirements; no model artifacts, no caches."""
    assert {ENTRY_SCRIPT, "requirements.txt", "training/train.py", "training/metrics.py", "model/network.py"} <= set(
        names
    )
    assert not [n for n in names if re.search(r"artifacts|__pycache__|training/cloud|\.gz$|\.pt$", n)]


# --- import hygiene ------------------------------------------------------------------------------


def test_importing_the_cli_does_not_import_the_sdk() -> None:
    code = "import sys, training.cloud, training.cloud.cli; assert 'sagemaker' not in sys.modules, 'SDK imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_nothing_on_the_lambda_or_endpoint_path_imports_the_sdk() -> None:
    """The Chalice app, chalicelib and the model package (handlers, local endpoint) never load it."""
    code = (
        "import importlib, pkgutil, sys, app, chalicelib, model\n"
        "for package in (chalicelib, model):\n"
        "    for module in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
        "        importlib.import_module(module.name)\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'sagemaker')\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT / "chalice_app")


# --- train and tune ------------------------------------------------------------------------------


def test_upload_data_puts_the_training_split_into_the_channel(sagemaker, capsys, mnist_dir: Path) -> None:
    session, _ = sagemaker
    result = cli(session, capsys, "upload-data", "--bucket", BUCKET, "--data-dir", str(mnist_dir))
    assert result["training_channel"] == f"s3://{BUCKET}/digits/data/training/"
    assert sorted(s3_keys(session, result["training_channel"])) == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]
    for uri in result["uploaded"]:
        local = mnist_dir / uri.rsplit("/", 1)[1]
        assert hashlib.sha256(s3_bytes(session, uri)).digest() == hashlib.sha256(local.read_bytes()).digest()


def test_upload_data_without_files_is_a_one_line_error(sagemaker, capsys, tmp_path: Path) -> None:
    session, _ = sagemaker
    line = cli_error(session, capsys, "upload-data", "--bucket", BUCKET, "--data-dir", str(tmp_path))
    assert "MNIST training files missing" in line


def test_train_sends_a_managed_spot_training_job(sagemaker, capsys) -> None:
    session, requests = sagemaker
    argv = ["--epochs", "3", "--lr", "0.002", "--batch-size", "256", "-H", "seed=7", "-H", "label_smoothing=0.05"]
    result = cli(session, capsys, "train", "--no-wait", *WHERE, *argv)

    job = requests.one("CreateTrainingJob")
    assert_spot_training(job, f"s3://{BUCKET}/digits/checkpoints/digits-train-")
    assert job["StoppingCondition"]["MaxWaitTimeInSeconds"] == 7200
    assert job["HyperParameters"] == {
        "epochs": "3", "lr": "0.002", "batch-size": "256", "seed": "7", "label-smoothing": "0.05",
    }  # fmt: skip
    assert job["TrainingJobName"].startswith("digits-train-")
    # ModelTrainer's driver runs the entry script from the code channel, installing requirements.txt.
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    assert_source(s3_keys(session, channels["code"]))
    source_config = json.loads(s3_bytes(session, channels["sm_drivers"].rstrip("/") + "/sourcecode.json"))
    assert source_config["entry_script"] == ENTRY_SCRIPT and source_config["requirements"] == "requirements.txt"
    assert result["training_job"] == job["TrainingJobName"]
    assert result["model_data"].endswith(f"/{job['TrainingJobName']}/output/model.tar.gz")


def test_train_refuses_a_max_wait_below_the_max_run(sagemaker, capsys) -> None:
    session, requests = sagemaker
    line = cli_error(session, capsys, "train", *WHERE, "--max-run-minutes", "90", "--max-wait-minutes", "60")
    assert "--max-wait-minutes (60) must be >= --max-run-minutes (90)" in line
    assert requests.of("CreateTrainingJob") == []


def test_tune_sends_a_bayesian_tuning_job_over_the_search_space(sagemaker, capsys) -> None:
    session, requests = sagemaker
    result = cli(session, capsys, "tune", "--no-wait", *WHERE, "--max-jobs", "20", "--max-parallel-jobs", "4")

    request = requests.one("CreateHyperParameterTuningJob")
    config, definition = request["HyperParameterTuningJobConfig"], request["TrainingJobDefinition"]
    assert result == {"tuning_job": request["HyperParameterTuningJobName"], "status": "InProgress"}
    assert config["Strategy"] == "Bayesian"
    assert config["TrainingJobEarlyStoppingType"] == "Auto"
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": OBJECTIVE_METRIC}
    assert OBJECTIVE_METRIC == "val_accuracy"
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 20, "MaxParallelTrainingJobs": 4}
    assert sent_ranges(config) == expected_ranges()
    assert_spot_training(definition, f"s3://{BUCKET}/digits/checkpoints/digits-tune-")

    # The tuner runs the DLC's legacy script mode: sagemaker_program from sagemaker_submit_directory.
    static = definition["StaticHyperParameters"]
    assert static["epochs"] == "12" and static["sagemaker_program"] == ENTRY_SCRIPT
    assert not {p.name for p in SEARCH_SPACE} & set(static)
    with tarfile.open(fileobj=io.BytesIO(s3_bytes(session, static["sagemaker_submit_directory"]))) as tar:
        assert_source(tar.getnames())


def test_tune_hyperband_turns_the_tuners_early_stopping_off(sagemaker, capsys) -> None:
    session, requests = sagemaker
    cli(session, capsys, "tune", "--no-wait", *WHERE, "--strategy", "Hyperband", "--epochs", "10", "--min-epochs", "3")

    config = requests.one("CreateHyperParameterTuningJob")["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Hyperband"
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    assert config["StrategyConfig"] == {"HyperbandStrategyConfig": {"MinResource": 3, "MaxResource": 10}}
    assert sent_ranges(config) == expected_ranges()


def test_tune_refuses_to_fix_a_tuned_hyperparameter(sagemaker, capsys) -> None:
    session, requests = sagemaker
    line = cli_error(session, capsys, "tune", *WHERE, "-H", "lr=0.1")
    assert "lr tuned by the search space" in line
    assert requests.of("CreateHyperParameterTuningJob") == []


# --- deploy, update, delete ----------------------------------------------------------------------


def assert_model(request: dict[str, Any], model_data: str) -> None:
    container = request["PrimaryContainer"]
    assert container["Image"] == INFERENCE_IMAGE
    assert container["ModelDataUrl"] == model_data
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
    assert request["ExecutionRoleArn"] == ROLE


def test_deploy_real_time_endpoint(sagemaker, capsys) -> None:
    session, requests = sagemaker
    result = cli(
        session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA, "--instance-type", "ml.c5.large",
        "--instance-count", "2",
    )  # fmt: skip

    model = requests.one("CreateModel")
    assert_model(model, MODEL_DATA)
    config = requests.one("CreateEndpointConfig")
    assert config["ProductionVariants"] == [
        {
            "VariantName": "AllTraffic",
            "ModelName": model["ModelName"],
            "InitialVariantWeight": 1,
            "InitialInstanceCount": 2,
            "InstanceType": "ml.c5.large",
        }
    ]
    endpoint = requests.one("CreateEndpoint")
    assert endpoint["EndpointName"] == ENDPOINT and endpoint["EndpointConfigName"] == config["EndpointConfigName"]
    assert result["status"] == "InService" and result["model"] == model["ModelName"]
    assert model["ModelName"].startswith(f"{ENDPOINT}-")
    assert result["existed"] is False

    line = cli_error(session, capsys, "deploy", *WHERE, "--model-data", f"s3://{BUCKET}/models/other/model.tar.gz")
    assert f"endpoint {ENDPOINT} already exists (InService, serving {MODEL_DATA})" in line


def test_deploy_registers_target_tracking_autoscaling_and_alarms(sagemaker, capsys) -> None:
    session, requests = sagemaker
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:digits-alarms"
    result = cli(
        session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA, "--instance-count", "2", "--min-instances", "1",
        "--max-instances", "6", "--invocations-per-instance", "1500", "--latency-alarm-ms", "300",
        "--alarm-topic-arn", topic,
    )  # fmt: skip

    names = requests.names()  # registered once InService (DescribeEndpoint, the waiter's, after CreateEndpoint)
    created = names.index("CreateEndpoint")
    assert created < names.index("DescribeEndpoint", created) < names.index("RegisterScalableTarget")
    variant = {"ServiceNamespace": "sagemaker", "ResourceId": f"endpoint/{ENDPOINT}/variant/AllTraffic",
               "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}  # fmt: skip
    assert requests.one("RegisterScalableTarget") == {**variant, "MinCapacity": 1, "MaxCapacity": 6}
    assert requests.one("PutScalingPolicy") == {
        **variant,
        "PolicyName": f"{ENDPOINT}-invocations-per-instance",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": 1500.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleOutCooldown": 60,
            "ScaleInCooldown": 300,
        },
    }
    assert result["autoscaling"]["min_instances"] == 1 and result["autoscaling"]["max_instances"] == 6

    alarms = {a["AlarmName"]: a for a in requests.of("PutMetricAlarm")}
    assert list(alarms) == result["alarms"] == [
        f"{ENDPOINT}-invocation-errors", f"{ENDPOINT}-model-latency", "digits-dev-inbox-dead-letters-depth",
    ]  # fmt: skip
    dimensions = [{"Name": "EndpointName", "Value": ENDPOINT}, {"Name": "VariantName", "Value": "AllTraffic"}]
    errors = alarms[f"{ENDPOINT}-invocation-errors"]
    assert (errors["Namespace"], errors["MetricName"], errors["Dimensions"]) == (
        "AWS/SageMaker", "Invocation5XXErrors", dimensions,
    )  # fmt: skip
    assert (errors["Statistic"], errors["Threshold"]) == ("Sum", 0.0)
    assert errors["ComparisonOperator"] == "GreaterThanThreshold"
    latency = alarms[f"{ENDPOINT}-model-latency"]
    assert (latency["MetricName"], latency["Dimensions"], latency["ExtendedStatistic"]) == (
        "ModelLatency", dimensions, "p99",
    )  # fmt: skip
    assert latency["Threshold"] == 300_000.0  # ModelLatency is in microseconds
    depth = alarms["digits-dev-inbox-dead-letters-depth"]
    assert (depth["Namespace"], depth["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert depth["Dimensions"] == [{"Name": "QueueName", "Value": "digits-dev-inbox-dead-letters"}]
    assert (depth["Threshold"], depth["ComparisonOperator"]) == (0.0, "GreaterThanThreshold")
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == alarm["OKActions"] == [topic]
        assert alarm["TreatMissingData"] == "notBreaching"
    # moto kept what was sent: the target and policy exist, the alarms too.
    autoscaling = session.client("application-autoscaling")
    [target] = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 6)
    assert len(autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]) == 1
    assert len(session.client("cloudwatch").describe_alarms()["MetricAlarms"]) == 3


def test_deploying_again_finishes_a_no_wait_deployment_and_delete_removes_everything(sagemaker, capsys) -> None:
    session, requests = sagemaker

    # --no-wait: the endpoint is not InService yet, and AWS registers no autoscaling before it is.
    def creating(parsed: dict[str, Any], **_: Any) -> None:
        parsed["EndpointStatus"] = "Creating"

    session.events.register("after-call.sagemaker.DescribeEndpoint", creating)
    first = cli(session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA, "--no-wait")
    assert first["autoscaling"].startswith("not yet") and requests.of("RegisterScalableTarget") == []
    session.events.unregister("after-call.sagemaker.DescribeEndpoint", creating)

    requests.clear()
    again = cli(session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA)
    assert again["existed"] is True and again["model"] == first["model"]
    assert requests.of("CreateModel") == requests.of("CreateEndpointConfig") == requests.of("CreateEndpoint") == []
    assert requests.one("RegisterScalableTarget")["MinCapacity"] == 1
    assert len(requests.of("PutMetricAlarm")) == 3

    requests.clear()
    deleted = cli(session, capsys, "delete", "--bucket", BUCKET)
    assert deleted["autoscaling"] == [f"endpoint/{ENDPOINT}/variant/AllTraffic"]
    assert len(deleted["alarms"]) == 3 and deleted["endpoints"] == [ENDPOINT]
    names = requests.names()
    assert names.index("DeregisterScalableTarget") < names.index("DeleteEndpoint")
    assert (
        session.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="sagemaker")[
            "ScalableTargets"
        ]
        == []
    )
    assert session.client("cloudwatch").describe_alarms()["MetricAlarms"] == []


def test_instance_bounds_are_checked_before_anything_is_sent(sagemaker, capsys) -> None:
    session, requests = sagemaker
    line = cli_error(session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA, "--instance-count", "3",
                     "--max-instances", "2")  # fmt: skip
    assert "--instance-count (3) must lie between --min-instances (3) and --max-instances (2)" in line
    assert requests.sent == []


def test_deploy_serverless_endpoint(sagemaker, capsys) -> None:
    session, requests = sagemaker
    cli(
        session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA, "--serverless", "--memory-mb", "3072",
        "--max-concurrency", "7", "--endpoint-name", "digits-serverless",
    )  # fmt: skip

    model = requests.one("CreateModel")
    assert_model(model, MODEL_DATA)
    (variant,) = requests.one("CreateEndpointConfig")["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 7}
    assert "InstanceType" not in variant and variant["ModelName"] == model["ModelName"]
    assert requests.one("CreateEndpoint")["EndpointName"] == "digits-serverless"
    # Serverless capacity is its MaxConcurrency: no instances to scale; the alarms are the same.
    assert requests.of("RegisterScalableTarget") == requests.of("PutScalingPolicy") == []
    assert [a["AlarmName"] for a in requests.of("PutMetricAlarm")][:2] == [
        "digits-serverless-invocation-errors", "digits-serverless-model-latency",
    ]  # fmt: skip


def test_deploy_passes_container_variables_and_refuses_torchserve_batching(sagemaker, capsys) -> None:
    """TorchServe batching breaks mixed traffic (tests/test_serving_batching.py): never deployed."""
    session, requests = sagemaker
    for batch_size in ("4", "0", "", "2 "):
        line = cli_error(
            session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA,
            "--container-env", f"SAGEMAKER_TS_BATCH_SIZE={batch_size}",
            "--container-env", "SAGEMAKER_TS_MAX_BATCH_DELAY=50",
        )  # fmt: skip
        assert f"SAGEMAKER_TS_BATCH_SIZE={batch_size!r} refused" in line
        assert "first one's Content-Type" in line and "503" in line
    assert requests.names() == [], "refused before any SageMaker call"
    line = cli_error(session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA, "--container-env", "NO_EQUALS")
    assert "--container-env expects KEY=VALUE" in line

    cli(
        session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA,
        "--container-env", "SAGEMAKER_TS_BATCH_SIZE=1", "--container-env", "SAGEMAKER_MODEL_SERVER_WORKERS=2",
    )  # fmt: skip
    model = requests.one("CreateModel")
    assert_model(model, MODEL_DATA)
    environment = model["PrimaryContainer"]["Environment"]
    assert environment["SAGEMAKER_TS_BATCH_SIZE"] == "1" and environment["SAGEMAKER_MODEL_SERVER_WORKERS"] == "2"

    requests.clear()
    second = f"s3://{BUCKET}/models/second/model.tar.gz"
    batching = ["--container-env", "SAGEMAKER_TS_BATCH_SIZE=8"]
    line = cli_error(session, capsys, "update", *WHERE, "--model-data", second, *batching)
    assert "SAGEMAKER_TS_BATCH_SIZE='8' refused" in line
    assert requests.names() == []


def test_deploy_the_model_of_a_training_job_and_of_a_tuning_jobs_best(sagemaker, capsys) -> None:
    session, requests = sagemaker
    trained = cli(session, capsys, "train", "--no-wait", *WHERE)

    # moto names a fixed fake best job: let it name ours, as SageMaker names one of the tuning job's.
    def best_is_ours(parsed: dict[str, Any], **_: Any) -> None:
        parsed["BestTrainingJob"]["TrainingJobName"] = trained["training_job"]

    session.events.register("after-call.sagemaker.DescribeHyperParameterTuningJob", best_is_ours)
    tuned = cli(session, capsys, "tune", *WHERE)  # waits (moto's tuning jobs complete at once), prints the best
    assert tuned["status"] == "Completed" and tuned["best"]["training_job"] == trained["training_job"]
    assert tuned["best"]["model_data"] == trained["model_data"] and tuned["best"]["status"] == "Completed"
    assert cli(session, capsys, "best", tuned["tuning_job"], "--bucket", BUCKET) == tuned

    requests.clear()
    cli(session, capsys, "deploy", *WHERE, "--tuning-job", tuned["tuning_job"], "--endpoint-name", "from-tuning")
    assert_model(requests.one("CreateModel"), trained["model_data"])
    requests.clear()
    cli(session, capsys, "deploy", *WHERE, "--training-job", trained["training_job"], "--endpoint-name", "from-job")
    assert_model(requests.one("CreateModel"), trained["model_data"])

    line = cli_error(session, capsys, "deploy", *WHERE, "--training-job", "no-such-job")
    assert "no-such-job" in line and "Could not find" in line


def test_update_switches_the_model_then_delete_removes_everything(sagemaker, capsys) -> None:
    session, requests = sagemaker
    first = cli(session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA, "--instance-type", "ml.c5.large")
    requests.clear()

    second_data = f"s3://{BUCKET}/models/second/model.tar.gz"
    second = cli(session, capsys, "update", *WHERE, "--model-data", second_data)
    model = requests.one("CreateModel")
    assert_model(model, second_data)
    config = requests.one("CreateEndpointConfig")
    (variant,) = config["ProductionVariants"]
    assert variant["ModelName"] == model["ModelName"] != first["model"]
    assert variant["InstanceType"] == "ml.c5.large" and variant["InitialInstanceCount"] == 1  # capacity kept
    update = requests.one("UpdateEndpoint")
    assert update == {
        "EndpointName": ENDPOINT,
        "EndpointConfigName": config["EndpointConfigName"],
        "RetainAllVariantProperties": True,  # the instance count autoscaling chose stays
    }
    # Once InService on the new configuration, the old configuration and model go.
    assert requests.one("DeleteEndpointConfig") == {"EndpointConfigName": first["endpoint_config"]}
    assert requests.one("DeleteModel") == {"ModelName": first["model"]}
    assert second["endpoint_config"] == config["EndpointConfigName"]
    names = requests.names()
    assert (
        names.index("UpdateEndpoint")
        < names.index("DescribeEndpoint", names.index("UpdateEndpoint"))
        < names.index("DeleteEndpointConfig")
    )

    requests.clear()
    deleted = cli(session, capsys, "delete", "--bucket", BUCKET)
    assert deleted == {
        "endpoints": [ENDPOINT],
        "endpoint_configs": [config["EndpointConfigName"]],
        "models": [model["ModelName"]],
        "autoscaling": [f"endpoint/{ENDPOINT}/variant/AllTraffic"],
        "alarms": [f"{ENDPOINT}-invocation-errors", f"{ENDPOINT}-model-latency", "digits-dev-inbox-dead-letters-depth"],
    }
    assert requests.one("DeleteEndpoint") == {"EndpointName": ENDPOINT}
    client = session.client("sagemaker")
    assert client.list_endpoints()["Endpoints"] == []
    assert client.list_endpoint_configs()["EndpointConfigs"] == []
    assert client.list_models()["Models"] == []
    assert cli(session, capsys, "delete") == {
        "endpoints": [], "endpoint_configs": [], "models": [], "autoscaling": [], "alarms": [],
    }  # fmt: skip


def test_a_rolled_back_update_is_reported_and_deletes_nothing(sagemaker, capsys) -> None:
    session, requests = sagemaker
    first = cli(session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA)

    def roll_back(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        """SageMaker's answer to a new model that never gets healthy: the old configuration stays."""
        from moto.sagemaker.models import sagemaker_backends

        endpoint = sagemaker_backends[ACCOUNT][REGION].endpoints[ENDPOINT]
        endpoint.failure_reason = "The primary container for production variant AllTraffic did not pass the ping"
        return AWSResponse("https://api.sagemaker.amazonaws.com/", 200, {}, None), {"EndpointArn": endpoint.arn}

    session.events.unregister("before-call.sagemaker.UpdateEndpoint", _moto_update_endpoint)
    session.events.register("before-call.sagemaker.UpdateEndpoint", roll_back)
    requests.clear()
    line = cli_error(session, capsys, "update", *WHERE, "--model-data", f"s3://{BUCKET}/models/broken/model.tar.gz")
    assert f"endpoint {ENDPOINT} still serves {first['endpoint_config']}" in line and "did not pass the ping" in line
    assert requests.of("DeleteEndpointConfig") == requests.of("DeleteModel") == []
    models = [m["ModelName"] for m in session.client("sagemaker").list_models()["Models"]]
    assert first["model"] in models and len(models) == 2


def test_deploy_over_the_leftovers_of_a_failed_deployment(sagemaker, capsys) -> None:
    session, requests = sagemaker
    first = cli(session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA, "--no-wait")
    session.client("sagemaker").delete_endpoint(EndpointName=ENDPOINT)  # as after a failed creation

    line = cli_error(session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA)
    assert f"endpoint configuration {ENDPOINT} is left from an earlier deployment" in line
    deleted = cli(session, capsys, "delete")
    assert (deleted["endpoints"], deleted["endpoint_configs"], deleted["models"]) == (
        [], [first["endpoint_config"]], [first["model"]],
    )  # fmt: skip
    requests.clear()
    assert cli(session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA)["status"] == "InService"
    assert requests.one("CreateEndpoint")["EndpointName"] == ENDPOINT


def test_update_without_an_endpoint_is_a_one_line_error(sagemaker, capsys) -> None:
    session, requests = sagemaker
    line = cli_error(session, capsys, "update", *WHERE, "--model-data", MODEL_DATA)
    assert f"endpoint {ENDPOINT} does not exist" in line
    assert requests.of("CreateModel") == []


# --- clear errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [(None, "no SageMaker execution role"), ("DigitsSageMaker", "must be an IAM role ARN")],
)
def test_a_missing_or_malformed_role_is_a_one_line_error(sagemaker, capsys, role: str | None, expected: str) -> None:
    session, requests = sagemaker
    argv = ["train", "--bucket", BUCKET, *(["--role-arn", role] if role else [])]
    assert expected in cli_error(session, capsys, *argv)
    assert requests.sent == [] and s3_keys(session, f"s3://{BUCKET}/digits") == []  # nothing sent, nothing uploaded


def test_missing_credentials_are_a_one_line_error(aws_env: None, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ACCESS_KEY") and "SECRET" not in k}
    result = subprocess.run(
        [sys.executable, "-m", "training.cloud", "deploy", "--role-arn", ROLE, "--model-data", MODEL_DATA],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: no AWS credentials found") and len(result.stderr.splitlines()) == 1


def test_aws_refusals_are_one_line_and_bugs_keep_their_traceback() -> None:
    from botocore.exceptions import ClientError, NoCredentialsError

    from training.cloud.cli import user_error

    assert user_error(NoCredentialsError()) == "Unable to locate credentials"
    refusal = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "User: x is not authorized\nto perform"}},
        "CreateTrainingJob",
    )
    assert user_error(refusal) == (
        "AWS refused CreateTrainingJob: AccessDeniedException: User: x is not authorized to perform"
    )
    assert user_error(KeyError("ModelArtifacts")) is None


def test_a_bad_model_uri_is_a_one_line_error(sagemaker, capsys) -> None:
    session, _ = sagemaker
    line = cli_error(session, capsys, "deploy", *WHERE, "--model-data", "/tmp/model.tar.gz")
    assert "invalid --model-data '/tmp/model.tar.gz'" in line


# --- the training job's side: entry point and metric regexes on real output ----------------------


def test_entry_point_gives_each_job_its_own_checkpoint_folder() -> None:
    extra = container_defaults(["--lr", "0.001"], {"TRAINING_JOB_NAME": "digits-tune-1-003-ab12"})
    assert extra[:2] == ["--checkpoint-dir", "/opt/ml/checkpoints/digits-tune-1-003-ab12"]
    assert extra[2] == "--threads" and int(extra[3]) >= 1
    assert container_defaults(["--checkpoint_dir", "/x", "--threads", "2"], {"TRAINING_JOB_NAME": "j"}) == []
    assert "--checkpoint-dir" not in container_defaults([], {})  # outside SageMaker: the script's default


def test_the_job_source_carries_the_training_fonts_and_their_licences(tmp_path: Path) -> None:
    """A training job draws its negatives from ``training/fonts``: the staged source has every file."""
    source = stage_source(tmp_path / "source")
    kept = sorted(p.relative_to(ROOT) for p in (ROOT / "training" / "fonts").rglob("*") if p.is_file())
    assert any(p.suffix == ".ttf" for p in kept) and any("licences" in p.parts for p in kept)
    for path in kept:
        assert (source / path).read_bytes() == (ROOT / path).read_bytes(), path


@pytest.mark.slow
def test_metric_regexes_read_the_real_training_log(tmp_path: Path, mnist_dir: Path) -> None:
    """One tiny epoch of the entry script, from the staged source alone (the repo off sys.path)."""
    source = stage_source(tmp_path / "source")
    runs = tmp_path / "run"
    bootstrap = (
        "import runpy, sys; "
        f"sys.path = [p for p in sys.path if p not in ({str(ROOT)!r}, {str(ROOT / 'chalice_app')!r})]; "
        f"sys.argv = [{str(source / ENTRY_SCRIPT)!r}, *sys.argv[1:]]; "
        f"sys.path.insert(0, {str(source)!r}); "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    argv = ["--epochs", "1", "--limit", "300", "--val-size", "500", "--batch-size", "64", "--threads", "1"]
    argv += ["--data-dir", str(mnist_dir), "--checkpoint-dir", str(runs / "checkpoints")]
    argv += ["--model-dir", str(runs / "model"), "--output-data-dir", str(runs / "output")]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "TRAINING_JOB", "PYTHONPATH"))}
    result = subprocess.run(
        [sys.executable, "-c", bootstrap, *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]

    log = result.stdout + result.stderr  # SageMaker scrapes both streams
    values = {}
    for definition in METRIC_DEFINITIONS:
        matches = re.findall(definition["Regex"], log)
        assert len(matches) == 1, f"{definition['Name']}: {matches} in {log!r}"  # one epoch, one value
        values[definition["Name"]] = float(matches[0])
    assert set(values) >= {OBJECTIVE_METRIC, "train_loss", "val_loss"}
    assert all(v == v and v >= 0 for v in values.values()), values  # numbers, not NaN
    assert 0 < values[OBJECTIVE_METRIC] <= 1
    assert values.get("epoch", 1) == 1
    # What the training job leaves in SM_MODEL_DIR is what the inference container needs.
    for name in ("model.pt", "metadata.json", "code/inference.py", "code/model/network.py"):
        assert (runs / "model" / name).is_file(), name

"""Naming a model by reference (``ops.model_source``): a local archive, ``s3://...``, a training job,
a tuning job's best.

S3 runs against the session's emulator (``emulator`` fixture: ``AWS_ENDPOINT_URL`` points there): the
shipped archive is uploaded to a bucket, predicted through ``s3://...`` by the CLI and served by the
local endpoint; a second run is served from the ETag cache, which never keeps a bad or partial file.
The SageMaker control plane (DescribeTrainingJob, DescribeHyperParameterTuningJob) is moto's
(``mock_aws``), with its S3 holding the job's ``model.tar.gz``.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import torch
from moto import mock_aws

from chalicelib import endpoint_client
from chalicelib.endpoint_client import EndpointClient
from ops import model_source
from ops.archive import DEFAULT_ARCHIVE
from ops.emulator import Emulator, free_port
from ops.model_source import ModelSourceError, cached_path, resolve
from ops.stack import Ports, Stack
from tests import images
from tests.test_serve import ENDPOINT_NAME, runtime_client, serve

# moto and the SageMaker SDK's shims warn on import: not ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "digits-test-models"
SHIPPED = DEFAULT_ARCHIVE.read_bytes()
OTHER_BUCKET = "digits-test-no-such-bucket"


def archive(members: dict[str, bytes]) -> bytes:
    """A model.tar.gz holding ``members`` (path in the archive -> bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue())


def shipped_with(replaced: dict[str, bytes]) -> bytes:
    """The shipped archive with some members replaced (e.g. another ``metadata.json``)."""
    with tarfile.open(DEFAULT_ARCHIVE) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    return archive({**members, **replaced})


def metadata(version: str) -> bytes:
    with tarfile.open(DEFAULT_ARCHIVE) as tar:
        meta = json.load(tar.extractfile("metadata.json"))
    return json.dumps({**meta, "version": version}).encode()


def cache_files(cache: Path) -> list[str]:
    """Every file in the cache, hidden ones (a download in progress) included."""
    return sorted(p.name for p in cache.rglob("*") if p.is_file()) if cache.exists() else []


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("DIGITS_MODEL_CACHE", str(folder))
    return folder


# --- local paths -----------------------------------------------------------------------------------


@pytest.mark.unit
def test_a_local_archive_or_folder_is_used_where_it_is(tmp_path: Path, cache: Path) -> None:
    assert resolve(DEFAULT_ARCHIVE) == DEFAULT_ARCHIVE
    (tmp_path / "unpacked").mkdir()
    (tmp_path / "unpacked" / "model.pt").write_bytes(b"weights")
    assert resolve(str(tmp_path / "unpacked")) == tmp_path / "unpacked"
    assert cache_files(cache) == []


@pytest.mark.unit
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no model archive at"),
        (b"not an archive", "is not a complete model.tar.gz"),
        (SHIPPED[: len(SHIPPED) // 2], "is not a complete model.tar.gz"),  # cut short
        (gzip.compress(b"plain text, not tar" * 100), "is not a complete model.tar.gz"),
        (archive({"metadata.json": b"{}", "code/inference.py": b""}), "has no model.pt"),
    ],
    ids=["missing", "not-gzip", "truncated", "gzip-not-tar", "no-model-pt"],
)
def test_a_bad_local_archive_is_one_clear_error(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "model.tar.gz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelSourceError, match=message) as raised:
        resolve(path)
    assert "\n" not in str(raised.value)


# --- S3 (the emulator) -----------------------------------------------------------------------------


@pytest.fixture
def s3(emulator: Emulator) -> Any:
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def counting_session() -> tuple[boto3.Session, list[str]]:
    """A boto3 session (the environment's: the emulator) that records the S3 calls it makes."""
    session, calls = boto3.Session(), []
    session.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    return session, calls


@pytest.mark.integration
def test_s3_archive_is_downloaded_once_per_etag(s3: Any, cache: Path) -> None:
    uri = f"s3://{BUCKET}/runs/first/model.tar.gz"
    s3.put_object(Bucket=BUCKET, Key="runs/first/model.tar.gz", Body=SHIPPED)
    etag = s3.head_object(Bucket=BUCKET, Key="runs/first/model.tar.gz")["ETag"]
    session, calls = counting_session()

    path = resolve(uri, session)
    assert path == cached_path(uri, etag) and path.parent == cache and etag.strip('"') in path.name
    assert path.read_bytes() == SHIPPED
    assert calls == ["HeadObject", "GetObject"]

    calls.clear()
    assert resolve(uri, session) == path
    assert calls == ["HeadObject"]  # the second run downloads nothing

    # A new object under the same key (a new ETag) is downloaded; the old copy stays valid for its ETag.
    newer = shipped_with({"metadata.json": metadata("newer")})
    s3.put_object(Bucket=BUCKET, Key="runs/first/model.tar.gz", Body=newer)
    calls.clear()
    second = resolve(uri, session)
    assert second != path and second.read_bytes() == newer and calls == ["HeadObject", "GetObject"]
    assert cache_files(cache) == sorted([path.name, second.name])


@pytest.mark.integration
@pytest.mark.parametrize(
    ("uri", "body", "message"),
    [
        (f"s3://{BUCKET}/missing/model.tar.gz", None, "no such object"),
        (f"s3://{OTHER_BUCKET}/model.tar.gz", None, "no such object"),
        (f"s3://{BUCKET}/junk/model.tar.gz", b"<html>not found</html>", "is not a complete model.tar.gz"),
        (f"s3://{BUCKET}/cut/model.tar.gz", SHIPPED[:100_000], "is not a complete model.tar.gz"),
        (f"s3://{BUCKET}/empty/model.tar.gz", archive({"metadata.json": b"{}"}), "has no model.pt"),
        ("s3://Not_A_Bucket/model.tar.gz", None, "invalid S3 URI"),
    ],
    ids=["missing", "no-bucket", "junk", "truncated", "no-model-pt", "bad-uri"],
)
def test_a_bad_s3_object_leaves_nothing_in_the_cache(
    s3: Any, cache: Path, uri: str, body: bytes | None, message: str
) -> None:
    if body is not None:
        s3.put_object(Bucket=BUCKET, Key=uri.split("/", 3)[3], Body=body)
    with pytest.raises(ModelSourceError, match=message) as raised:
        resolve(uri)
    assert uri in str(raised.value) and "\n" not in str(raised.value)
    assert cache_files(cache) == []


@pytest.mark.integration
def test_an_object_over_the_size_cap_is_not_downloaded(s3: Any, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s3.put_object(Bucket=BUCKET, Key="big/model.tar.gz", Body=SHIPPED)
    monkeypatch.setattr(model_source, "MAX_ARCHIVE_BYTES", len(SHIPPED) - 1)
    session, calls = counting_session()
    with pytest.raises(ModelSourceError, match="-byte cap"):
        resolve(f"s3://{BUCKET}/big/model.tar.gz", session)
    assert calls == ["HeadObject"] and cache_files(cache) == []


def predict(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops.predict", *args], capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, **(env or {})}, check=False,
    )  # fmt: skip


@pytest.mark.integration
@pytest.mark.slow
def test_predict_cli_reads_a_model_from_s3_then_from_the_cache(s3: Any, cache: Path, tmp_path: Path) -> None:
    uri = f"s3://{BUCKET}/cli/model.tar.gz"
    s3.put_object(Bucket=BUCKET, Key="cli/model.tar.gz", Body=SHIPPED)
    seven = tmp_path / "seven.png"
    seven.write_bytes(images.png(images.draw_strokes(images.STROKES[7])))

    first = predict("--model", uri, str(seven))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["digit"] == 7
    (cached,) = cache.iterdir()
    assert cached == cached_path(uri, s3.head_object(Bucket=BUCKET, Key="cli/model.tar.gz")["ETag"])

    # Proof that the second run reads the cache, not S3: the cached copy now says another version.
    cached.write_bytes(shipped_with({"metadata.json": metadata("read-from-the-cache")}))
    second = predict("--model", uri, str(seven))
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["model_version"] == "read-from-the-cache"


@pytest.mark.integration
@pytest.mark.slow
def test_predict_cli_bad_models_are_one_error_line_and_status_2(s3: Any, cache: Path, tmp_path: Path) -> None:
    seven = tmp_path / "seven.png"
    seven.write_bytes(images.png(images.draw_strokes(images.STROKES[7])))
    buffer = io.BytesIO()
    torch.save({"conv.weight": torch.zeros(3, 3)}, buffer)  # a state_dict, but not of DigitNet
    s3.put_object(Bucket=BUCKET, Key="other/model.tar.gz", Body=shipped_with({"model.pt": buffer.getvalue()}))
    no_credentials = {
        "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_CONFIG_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true",
    }  # fmt: skip
    cases = [
        (["--model", f"s3://{BUCKET}/nothing/model.tar.gz"], {}, "no such object"),
        (["--model", f"s3://{BUCKET}/other/model.tar.gz"], no_credentials, "no AWS credentials found"),
        (["--model", f"s3://{BUCKET}/other/model.tar.gz"], {}, "holds the weights of another network"),
        (["--model", "tuning-job:not a name"], {}, "invalid model reference"),
    ]
    for args, env, message in cases:
        result = predict(*args, str(seven), env=env)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and not result.stdout, result.stderr
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    # Only the complete (if incompatible) archive was cached: it is what S3 holds under that ETag.
    etag = s3.head_object(Bucket=BUCKET, Key="other/model.tar.gz")["ETag"]
    assert cache_files(cache) == [cached_path(f"s3://{BUCKET}/other/model.tar.gz", etag).name]


@pytest.mark.integration
@pytest.mark.slow
def test_endpoint_serves_a_model_from_s3_and_says_where_it_came_from(
    s3: Any, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"s3://{BUCKET}/endpoint/model.tar.gz"
    s3.put_object(Bucket=BUCKET, Key="endpoint/model.tar.gz", Body=SHIPPED)
    with serve(uri, tmp_path) as server:  # type: ignore[arg-type]
        server.wait(200)
        assert server.metrics()["model_source"] == uri
        answer = runtime_client(server).invoke_endpoint(
            EndpointName=ENDPOINT_NAME, Body=images.png(images.draw_strokes(images.STROKES[3])), ContentType="image/png"
        )
        assert json.loads(answer["Body"].read())["digit"] == 3
        assert answer["CustomAttributes"] == f"model_source={uri}"
        # What the API's /health reports, through the same client the Lambda uses.
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", server.url)
        endpoint_client.runtime_client.cache_clear()
        try:
            assert EndpointClient(ENDPOINT_NAME).probe().model_source == uri
        finally:
            endpoint_client.runtime_client.cache_clear()
    assert len(cache_files(cache)) == 1

    with serve(f"s3://{BUCKET}/endpoint/missing.tar.gz", tmp_path) as server:  # type: ignore[arg-type]
        assert server.process.wait(60) == 2
        (line,) = [line for line in server.log_lines() if line["level"] != "INFO"]  # botocore says which credentials
        assert line["level"] == "CRITICAL" and "no such object" in line["message"]


@pytest.mark.integration
def test_make_up_resolves_the_model_before_starting_anything(s3: Any, cache: Path) -> None:
    uri = f"s3://{BUCKET}/stack/model.tar.gz"
    s3.put_object(Bucket=BUCKET, Key="stack/model.tar.gz", Body=SHIPPED)
    ports = Ports(aws=free_port(), endpoint=free_port(), api=free_port(), ui=free_port())
    stack = Stack(ports=ports, model=uri, with_ui=False)
    (endpoint,) = [s for s in stack.services() if s.name == "endpoint"]
    argv = endpoint.argv
    assert argv[argv.index("--model") + 1] == str(stack.archive) and stack.archive.parent == cache
    assert argv[argv.index("--model-source") + 1] == uri

    missing = Stack(ports=ports, model=f"s3://{BUCKET}/stack/missing.tar.gz", with_ui=False)
    with pytest.raises(ModelSourceError, match="no such object"):
        missing.start()
    assert missing._supervisor is None and missing._serving_stack is None  # nothing was started


# --- SageMaker jobs (moto) -------------------------------------------------------------------------

ROLE = "arn:aws:iam::123456789012:role/DigitsSageMaker"
RESOURCES = {
    "AlgorithmSpecification": {"TrainingImage": "pytorch-training:2.10-cpu-py313", "TrainingInputMode": "File"},
    "RoleArn": ROLE,
    "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/digits/output"},
    "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}


@pytest.fixture
def sagemaker(monkeypatch: pytest.MonkeyPatch, cache: Path) -> Iterator[boto3.Session]:
    """moto's AWS (SageMaker and S3, nothing redirected to the emulator) with a completed training job
    ``digits-train-1`` whose model.tar.gz (the shipped one) is in S3, and a tuning job ``digits-tune-1``."""
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for key, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        session = boto3.Session()
        session.client("s3").create_bucket(Bucket=BUCKET)
        client = session.client("sagemaker")
        client.create_training_job(TrainingJobName="digits-train-1", **RESOURCES)
        uri = client.describe_training_job(TrainingJobName="digits-train-1")["ModelArtifacts"]["S3ModelArtifacts"]
        bucket, key = uri.removeprefix("s3://").split("/", 1)
        session.client("s3").put_object(Bucket=bucket, Key=key, Body=SHIPPED)
        client.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName="digits-tune-1",
            HyperParameterTuningJobConfig={
                "Strategy": "Bayesian",
                "ResourceLimits": {"MaxNumberOfTrainingJobs": 4, "MaxParallelTrainingJobs": 2},
                "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "val_accuracy"},
            },
            TrainingJobDefinition=RESOURCES,
        )
        yield session


def edit_response(session: boto3.Session, operation: str, edit: Any) -> None:
    """Change what moto answers to ``operation`` (as SageMaker would answer in that situation)."""
    session.events.register(f"after-call.sagemaker.{operation}", lambda parsed, **_: edit(parsed))


@pytest.mark.unit
def test_a_training_job_names_its_model_artifact(sagemaker: boto3.Session, cache: Path) -> None:
    uri = f"s3://{BUCKET}/digits/output/digits-train-1/output/model.tar.gz"
    assert model_source.artifact_uri("training-job:digits-train-1", sagemaker) == uri
    path = resolve("training-job:digits-train-1", sagemaker)
    assert path.parent == cache and path.read_bytes() == SHIPPED


@pytest.mark.unit
def test_a_tuning_job_names_its_best_training_jobs_artifact(sagemaker: boto3.Session) -> None:
    # moto's tuning job names a fixed fake best job: let it name ours, as SageMaker names one of its jobs.
    edit_response(
        sagemaker,
        "DescribeHyperParameterTuningJob",
        lambda parsed: parsed["BestTrainingJob"].update(TrainingJobName="digits-train-1"),
    )
    path = resolve("tuning-job:digits-tune-1", sagemaker)
    assert path.read_bytes() == SHIPPED
    assert path == resolve(f"s3://{BUCKET}/digits/output/digits-train-1/output/model.tar.gz", sagemaker)


@pytest.mark.unit
def test_unusable_jobs_are_one_clear_error(sagemaker: boto3.Session, cache: Path) -> None:
    def fail(reference: str, message: str) -> None:
        with pytest.raises(ModelSourceError, match=message) as raised:
            resolve(reference, sagemaker)
        assert "\n" not in str(raised.value)

    fail("training-job:no-such-job", "training job no-such-job: not found")
    fail("tuning-job:no-such-tuning", "tuning job no-such-tuning: not found")
    fail("training-job:bad_name!", "invalid model reference")
    # A tuning job whose training jobs are all still running (or failed): no BestTrainingJob yet.
    edit_response(sagemaker, "DescribeHyperParameterTuningJob", lambda parsed: (
        parsed.pop("BestTrainingJob"), parsed.update(HyperParameterTuningJobStatus="InProgress")))  # fmt: skip
    fail("tuning-job:digits-tune-1", "tuning job digits-tune-1 has no completed training job yet .status InProgress")
    edit_response(sagemaker, "DescribeTrainingJob", lambda parsed: (
        parsed.pop("ModelArtifacts"), parsed.update(TrainingJobStatus="Failed")))  # fmt: skip
    fail("training-job:digits-train-1", "training job digits-train-1 is Failed: it has no model yet")
    assert cache_files(cache) == []

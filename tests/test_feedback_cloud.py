"""The feedback loop's AWS side under moto: the SageMaker Model Registry payloads, the gate setting the
approval status, promotion as an in-place endpoint update (``training.cloud.hosting.update``), rollback.

The models are real (the shipped one and a challenger fine-tuned here on slanted digits) and the gate
really scores them: only the AWS API is moto's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from ops.stack import MODEL_ARCHIVE
from tests.test_cloud import (  # noqa: F401 (aws_env, sagemaker: fixtures, moto's AWS and the requests sent)
    BUCKET,
    ENDPOINT,
    INFERENCE_IMAGE,
    MODEL_DATA,
    WHERE,
    aws_env,
    cli,
    sagemaker,
)
from tests.test_feedback_loop import fine_tune
from training.cloud.context import Cloud, CloudError, Settings
from training.feedback import model_registry
from training.feedback.channel import Example, write_manifest
from training.feedback.simulate import slanted_digits

#: The shipped model's version (model/artifacts/metadata.json).
SHIPPED_VERSION = json.loads((MODEL_ARCHIVE.parent / "metadata.json").read_text())["version"]

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module")
def channel_and_challenger(mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A feedback channel of 40 slanted training-split digits that the shipped model misreads (10 held
    out), and a challenger fine-tuned on it."""
    from model.network import normalize
    from training.evaluate import load_model

    work = tmp_path_factory.mktemp("feedback-cloud")
    channel = work / "channel"
    (channel / "model_input").mkdir(parents=True)
    (channel / "uploads").mkdir()
    shipped, _ = load_model(MODEL_ARCHIVE)
    pictures, labels = slanted_digits(200, data_dir=mnist_dir)
    with torch.inference_mode():
        read = shipped(normalize(pictures)).argmax(1).numpy()
    misread = [(Image.fromarray(p), int(y), int(r)) for p, y, r in zip(pictures, labels, read, strict=True) if r != y]
    assert len(misread) >= 40
    examples = []
    for n, (picture, label, predicted) in enumerate(misread[:40]):
        name = f"00000000-0000-4000-8000-{n:012d}"
        picture.save(channel / "model_input" / f"{name}.png")
        picture.save(channel / "uploads" / f"{name}.png")
        examples.append(
            Example(
                name,
                label,
                predicted,
                "corrected",
                "holdout" if n % 4 == 0 else "train",
                "api",
                "2026-11-30T00:00:00.000000Z",
                "2026-11-30T00:00:01.000000Z",
                None,
                f"model_input/{name}.png",
                f"uploads/{name}.png",
            )
        )
    write_manifest(channel, examples)
    return channel, fine_tune(channel, work, feedback_share=0.25)  # train.py's default share


def test_promotion_registers_versions_gates_them_and_updates_the_endpoint(
    sagemaker,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
    channel_and_challenger: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    session, requests = sagemaker
    channel, challenger = channel_and_challenger
    monkeypatch.setenv("DIGITS_MODEL_CACHE", str(tmp_path / "cache"))
    bucket, key = MODEL_DATA[5:].split("/", 1)
    session.client("s3").upload_file(str(MODEL_ARCHIVE), bucket, key)
    cli(session, capsys, "deploy", *WHERE, "--model-data", MODEL_DATA)
    cloud = Cloud(Settings.resolve(stage="dev", bucket=BUCKET, role_arn=WHERE[-1]), session)
    requests.clear()

    # A challenger no better on the held-out feedback (the served model itself): Rejected, nothing switched.
    refused = model_registry.promote(cloud, str(MODEL_ARCHIVE), channel)
    assert refused["promoted"] is False
    assert requests.one("CreateModelPackageGroup")["ModelPackageGroupName"] == ENDPOINT
    baseline, pending = requests.of("CreateModelPackage")
    assert baseline["ModelApprovalStatus"] == "Approved"  # what served before: the rollback target
    (container,) = baseline["InferenceSpecification"]["Containers"]
    assert (container["Image"], container["ModelDataUrl"]) == (INFERENCE_IMAGE, MODEL_DATA)
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert pending["ModelApprovalStatus"] == "PendingManualApproval" and pending["ModelPackageGroupName"] == ENDPOINT
    assert pending["CustomerMetadataProperties"]["model_version"] == SHIPPED_VERSION
    (rejected,) = requests.of("UpdateModelPackage")
    assert rejected["ModelApprovalStatus"] == "Rejected"
    assert "not better on held-out feedback" in rejected["ApprovalDescription"]
    assert "UpdateEndpoint" not in requests.names()
    assert model_registry.served_model_data(cloud) == MODEL_DATA

    # The fine-tuned challenger: uploaded, registered, approved, then the endpoint updated in place.
    requests.clear()
    promoted = model_registry.promote(cloud, str(challenger), channel)
    assert promoted["promoted"] is True, promoted["verdict"]["reasons"]
    (registered,) = requests.of("CreateModelPackage")
    new_data = registered["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert new_data.startswith(f"s3://{BUCKET}/digits/models/") and new_data != MODEL_DATA
    (approved,) = requests.of("UpdateModelPackage")
    assert (approved["ModelPackageArn"], approved["ModelApprovalStatus"]) == (promoted["model_package"], "Approved")
    names = requests.names()
    assert names.index("UpdateModelPackage") < names.index("UpdateEndpoint")  # approval is the gate
    assert model_registry.served_model_data(cloud) == new_data
    statuses = [p["ModelApprovalStatus"] for p in model_registry.status(cloud)["ModelPackages"]]
    assert statuses == ["Approved", "Rejected", "Approved"]  # newest first

    # One command back: the previous approved version serves, the rolled-back one is Rejected.
    requests.clear()
    rolled = model_registry.rollback(cloud)
    assert rolled["rolled_back"] == promoted["model_package"]
    assert model_registry.served_model_data(cloud) == MODEL_DATA
    (marked,) = requests.of("UpdateModelPackage")
    assert (marked["ModelPackageArn"], marked["ModelApprovalStatus"]) == (promoted["model_package"], "Rejected")
    with pytest.raises(CloudError, match="nothing to roll back to"):
        model_registry.rollback(cloud)


def test_a_training_job_gets_the_feedback_channel_and_the_model_to_start_from(
    sagemaker,  # noqa: F811 (the fixture imported above)
    capsys: pytest.CaptureFixture[str],
) -> None:
    session, requests = sagemaker
    feedback = f"s3://{BUCKET}/digits/feedback/"
    cli(
        session,
        capsys,
        "train",
        "--no-wait",
        *WHERE,
        "--epochs",
        "1",
        "--feedback-channel",
        feedback,
        "--init-model",
        MODEL_DATA,
        "-H",
        "limit=10000",
        "-H",
        "lr=5e-5",
    )
    job = requests.one("CreateTrainingJob")
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    assert channels["feedback"] == feedback  # $SM_CHANNEL_FEEDBACK in the job: train.py's --feedback-dir
    assert channels["init"] == MODEL_DATA
    assert job["HyperParameters"]["init-model"] == "/opt/ml/input/data/init/model.tar.gz"
    assert (job["HyperParameters"]["limit"], job["HyperParameters"]["lr"]) == ("10000", "5e-5")

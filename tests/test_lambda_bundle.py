"""The Lambda deployment package as ``chalice package`` builds it: small, and free of the model's stack.

``--pkg-format terraform``: CloudFormation packaging refuses apps with ``@app.on_s3_event``. Chalice
resolves ``chalice_app/requirements.txt`` with pip (through the configured package index, as
``chalice deploy`` does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from chalicelib.config import load
from ops.emulator import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAX_ZIP_BYTES = 10 * 1024 * 1024
FORBIDDEN = ("torch", "torchvision", "sagemaker", "numpy", "PIL", "boto3", "botocore", "model", "training", "ops")


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package") / "dev"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGITS_", "AWS_ENDPOINT_URL"))}
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    chalice = Path(sys.executable).with_name("chalice")
    result = subprocess.run(
        [str(chalice), "package", "--stage", "dev", "--pkg-format", "terraform", str(out)],
        cwd=ROOT / "chalice_app",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_zip_is_small_and_has_no_model_stack(package: Path):
    archive = package / "deployment.zip"
    size = archive.stat().st_size
    print(f"\nLambda deployment.zip: {size / 1e6:.2f} MB")
    assert size < MAX_ZIP_BYTES
    with zipfile.ZipFile(archive) as zf:
        top = {name.split("/", 1)[0] for name in zf.namelist()}
        contract = zf.read("chalicelib/contract.py")
    assert {"app.py", "chalicelib", "aws_lambda_powertools"} <= top
    # chalicelib/contract.py is a link to model/contract.py: the bundle carries the file it points to
    assert contract == (ROOT / "model" / "contract.py").read_bytes()
    bundled = {name.split("-")[0].split(".")[0] for name in top}
    assert not bundled & set(FORBIDDEN), bundled & set(FORBIDDEN)


def test_terraform_wires_the_stage(package: Path):
    resources = json.loads((package / "chalice.tf.json").read_text())["resource"]
    config = load("dev", environ={})
    [notification] = resources["aws_s3_bucket_notification"].values()
    assert notification["bucket"] == config.inbox_bucket
    assert notification["lambda_function"][0]["filter_prefix"] == config.inbox_prefix
    functions = resources["aws_lambda_function"]
    assert functions["api_handler"]["environment"]["variables"]["DIGITS_STAGE"] == "dev"
    assert functions["handle_inbox_upload"]["timeout"] == 60
    assert all(f["tracing_config"]["mode"] == "Active" for f in functions.values())

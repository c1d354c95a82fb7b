"""The feedback loop on AWS: model versions in the SageMaker Model Registry, promotion by endpoint update.

One model package group per stage, named after the stage's endpoint (``digits-dev``). A challenger is
registered as a model package (``PendingManualApproval``) with the image, model data and environment the
endpoint would run it with; the gate (:mod:`training.feedback.gate`) then sets its approval status:
``Approved`` and the endpoint is switched to it in place (:func:`training.cloud.hosting.update`:
SageMaker keeps serving the old model until the new one is healthy, and rolls back if it never is),
or ``Rejected`` with the reasons. Before the first challenger, the model the endpoint serves is
registered and approved (the baseline a rollback returns to). A rollback switches the endpoint to the
newest approved package older than the one serving, and marks that one ``Rejected``.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path
from typing import Any

from training.cloud import hosting
from training.cloud.context import Cloud, CloudError
from training.feedback.gate import compare

APPROVED, REJECTED, PENDING = "Approved", "Rejected", "PendingManualApproval"
CONTENT_TYPES = ["image/png", "image/jpeg", "application/json", "application/x-npy"]


def group_name(cloud: Cloud) -> str:
    return cloud.settings.endpoint_name


def served_model_data(cloud: Cloud) -> str:
    """The S3 URI of the model the stage's endpoint serves."""
    endpoint = hosting.endpoint_status(cloud, cloud.settings.endpoint_name)
    if not endpoint:
        raise CloudError(f"endpoint {cloud.settings.endpoint_name} does not exist: deploy it first")
    _, model_data = hosting._served_model(cloud, endpoint)
    if not model_data:
        raise CloudError(f"cannot tell which model endpoint {cloud.settings.endpoint_name} serves")
    return model_data


def _ensure_group(cloud: Cloud) -> None:
    from botocore.exceptions import ClientError

    client = cloud.sagemaker_client()
    try:
        client.describe_model_package_group(ModelPackageGroupName=group_name(cloud))
    except ClientError:
        client.create_model_package_group(
            ModelPackageGroupName=group_name(cloud),
            ModelPackageGroupDescription=f"digit models of stage {cloud.settings.stage} (feedback loop)",
        )


def packages(cloud: Cloud) -> list[dict[str, Any]]:
    """The group's packages, newest first, described (with ``ModelDataUrl``)."""
    client = cloud.sagemaker_client()
    summaries: list[dict[str, Any]] = []
    request = {"ModelPackageGroupName": group_name(cloud), "SortBy": "CreationTime", "SortOrder": "Descending"}
    while True:
        page = client.list_model_packages(**request)
        summaries += page.get("ModelPackageSummaryList", [])
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    described = []
    for summary in summaries:
        package = client.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        package["ModelDataUrl"] = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        described.append(package)
    return sorted(described, key=lambda p: p["ModelPackageVersion"], reverse=True)


def _register(cloud: Cloud, model_data: str, archive: Path, status: str, description: str) -> str:
    """CreateModelPackage for ``model_data`` (``archive``: its local copy, for the metadata); the ARN."""
    with tarfile.open(archive) as tar:
        metadata = json.loads(tar.extractfile("metadata.json").read())  # type: ignore[union-attr]
    response = cloud.sagemaker_client().create_model_package(
        ModelPackageGroupName=group_name(cloud),
        ModelPackageDescription=description[:1000],
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [
                {
                    "Image": hosting.inference_image(cloud.region, hosting.Capacity()),
                    "ModelDataUrl": model_data,
                    "Environment": {
                        "SAGEMAKER_PROGRAM": "inference.py",
                        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
                        "SAGEMAKER_REGION": cloud.region,
                    },
                }
            ],
            "SupportedContentTypes": CONTENT_TYPES,
            "SupportedResponseMIMETypes": ["application/json", "application/x-npy"],
        },
        CustomerMetadataProperties={
            "model_version": str(metadata.get("version")),
            "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
        },
    )
    return response["ModelPackageArn"]


def _set_status(cloud: Cloud, arn: str, status: str, description: str) -> None:
    cloud.sagemaker_client().update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=description[:1000]
    )


def _model_data_of(cloud: Cloud, reference: str, archive: Path) -> str:
    """An S3 URI for ``reference``: itself, a job's artifact, or the local archive uploaded once."""
    from ops.model_source import JOB_PREFIXES, artifact_uri

    if reference.startswith("s3://"):
        return reference
    if reference.startswith(JOB_PREFIXES):
        return artifact_uri(reference, cloud.boto_session)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()[:12]
    key = cloud.key("models", digest) + "model.tar.gz"
    cloud.boto_session.client("s3").upload_file(str(archive), cloud.bucket, key)
    return f"s3://{cloud.bucket}/{key}"


def promote(
    cloud: Cloud, challenger: str, channel: Path, strict: bool = False, data_dir: str | None = None
) -> dict[str, Any]:
    """Register the challenger, gate it against the served model, and on approval update the endpoint."""
    from ops.model_source import resolve

    champion_data = served_model_data(cloud)
    champion = resolve(champion_data, cloud.boto_session)
    challenger_archive = resolve(challenger, cloud.boto_session)
    _ensure_group(cloud)
    if not packages(cloud):
        _register(cloud, champion_data, champion, APPROVED, "baseline: the model the endpoint served before")
    challenger_data = _model_data_of(cloud, challenger, challenger_archive)
    arn = _register(cloud, challenger_data, challenger_archive, PENDING, f"challenger from {challenger}")
    verdict = compare(challenger_archive, champion, channel, strict, data_dir)
    if not verdict.passed:
        _set_status(cloud, arn, REJECTED, "; ".join(verdict.reasons))
        return {"promoted": False, "model_package": arn, "verdict": verdict.as_dict()}
    _set_status(cloud, arn, APPROVED, f"passed the gate against {champion_data}")
    try:
        endpoint = hosting.update(cloud, challenger_data)
    except Exception as exc:  # SageMaker kept (or rolled back to) the old model: this one does not serve
        _set_status(cloud, arn, REJECTED, f"endpoint update failed: {exc}")
        raise
    return {"promoted": True, "model_package": arn, "verdict": verdict.as_dict(), "endpoint": endpoint}


def rollback(cloud: Cloud) -> dict[str, Any]:
    """Switch the endpoint to the newest approved package older than the served one; reject the served one."""
    served = served_model_data(cloud)
    listed = packages(cloud)
    current = next((p for p in listed if p["ModelDataUrl"] == served), None)
    if current is None:
        raise CloudError(f"the served model {served} is not in model package group {group_name(cloud)}")
    older = listed[listed.index(current) + 1 :]
    target = next((p for p in older if p["ModelApprovalStatus"] == APPROVED and p["ModelDataUrl"] != served), None)
    if target is None:
        raise CloudError(f"no approved version before {current['ModelPackageArn']}: nothing to roll back to")
    endpoint = hosting.update(cloud, target["ModelDataUrl"])
    _set_status(cloud, current["ModelPackageArn"], REJECTED, f"rolled back to {target['ModelPackageArn']}")
    return {"rolled_back": current["ModelPackageArn"], "serving": target["ModelPackageArn"], "endpoint": endpoint}


def status(cloud: Cloud) -> dict[str, Any]:
    served = served_model_data(cloud)
    return {
        "ModelPackageGroupName": group_name(cloud),
        "serving": served,
        "ModelPackages": [
            {
                k: p.get(k)
                for k in (
                    "ModelPackageVersion",
                    "ModelPackageArn",
                    "ModelApprovalStatus",
                    "CreationTime",
                    "ModelDataUrl",
                    "ApprovalDescription",
                )
            }
            for p in packages(cloud)
        ],
    }

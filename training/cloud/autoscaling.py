"""Application Auto Scaling of a real-time endpoint: target tracking on invocations per instance.

The endpoint's one production variant (``AllTraffic``) is registered as a scalable target
(``sagemaker:variant:DesiredInstanceCount``, between ``min_instances`` and ``max_instances``) with a
target tracking policy on the predefined metric ``SageMakerVariantInvocationsPerInstance`` (invocations
per instance per minute). Both calls replace what was there, so applying it again is harmless.
Serverless endpoints have no instances: their capacity is the variant's ``MaxConcurrency``.

AWS refuses to register a variant whose endpoint is not ``InService``: :mod:`training.cloud.hosting`
applies this once the endpoint is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from training.cloud.context import Cloud, CloudError

VARIANT = "AllTraffic"
NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
METRIC = "SageMakerVariantInvocationsPerInstance"
#: Invocations per instance per minute. One 2-vCPU instance answered about 80 single images per second
#: in the endpoint benchmark (bench/results/endpoint.json, 4,800 a minute): scaling out at 2,000 keeps
#: each instance well below that, with room for the minutes a new instance takes to come up.
DEFAULT_INVOCATIONS_PER_INSTANCE = 2000
DEFAULT_MAX_INSTANCES = 4
#: Out quickly (a queue of requests is felt at once), in slowly (a short lull is not the end of a peak).
SCALE_OUT_COOLDOWN_S = 60
SCALE_IN_COOLDOWN_S = 300


@dataclass(frozen=True)
class Scaling:
    """Instance bounds and the target of a real-time endpoint's variant."""

    min_instances: int = 1
    max_instances: int = DEFAULT_MAX_INSTANCES
    invocations_per_instance: int = DEFAULT_INVOCATIONS_PER_INSTANCE

    def validate(self, instance_count: int) -> None:
        if self.min_instances < 1:
            raise CloudError("--min-instances must be at least 1")
        if not self.min_instances <= instance_count <= self.max_instances:
            raise CloudError(
                f"--instance-count ({instance_count}) must lie between --min-instances ({self.min_instances})"
                f" and --max-instances ({self.max_instances})"
            )
        if self.invocations_per_instance < 1:
            raise CloudError("--invocations-per-instance must be at least 1")


def resource_id(endpoint: str) -> str:
    return f"endpoint/{endpoint}/variant/{VARIANT}"


def policy_name(endpoint: str) -> str:
    return f"{endpoint}-invocations-per-instance"


def apply(cloud: Cloud, endpoint: str, scaling: Scaling) -> dict[str, Any]:
    """Register the variant and put its target tracking policy; returns what was registered."""
    client = cloud.boto_session.client("application-autoscaling")
    target = {"ServiceNamespace": NAMESPACE, "ResourceId": resource_id(endpoint), "ScalableDimension": DIMENSION}
    client.register_scalable_target(**target, MinCapacity=scaling.min_instances, MaxCapacity=scaling.max_instances)
    client.put_scaling_policy(
        **target,
        PolicyName=policy_name(endpoint),
        PolicyType="TargetTrackingScaling",
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": float(scaling.invocations_per_instance),
            "PredefinedMetricSpecification": {"PredefinedMetricType": METRIC},
            "ScaleOutCooldown": SCALE_OUT_COOLDOWN_S,
            "ScaleInCooldown": SCALE_IN_COOLDOWN_S,
        },
    )
    return {
        "resource_id": resource_id(endpoint),
        "min_instances": scaling.min_instances,
        "max_instances": scaling.max_instances,
        "invocations_per_instance": scaling.invocations_per_instance,
    }


def remove(cloud: Cloud, endpoint: str) -> bool:
    """Deregister the variant (its policies go with it); False when it was not registered."""
    client = cloud.boto_session.client("application-autoscaling")
    target = {"ServiceNamespace": NAMESPACE, "ResourceId": resource_id(endpoint), "ScalableDimension": DIMENSION}
    if not client.describe_scalable_targets(ServiceNamespace=NAMESPACE, ResourceIds=[resource_id(endpoint)])[
        "ScalableTargets"
    ]:
        return False
    client.deregister_scalable_target(**target)
    return True

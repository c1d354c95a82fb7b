"""Endpoints: deploy a model (real-time or serverless), switch an endpoint to a new model, delete.

``deploy`` creates the endpoint and, once it is InService, registers autoscaling (real-time:
:mod:`training.cloud.autoscaling`) and puts the stage's alarms (:mod:`training.cloud.alarms`). Run
again with the same model, it creates nothing and applies autoscaling and alarms again: a deployment
that failed half-way (or ran with ``--no-wait``, so before autoscaling could be registered) is
finished that way. ``delete`` removes all of it.

The model is ``model.tar.gz`` as a training job writes it (``model.pt``, ``metadata.json``,
``code/inference.py``): the PyTorch *inference* container loads ``code/inference.py`` from it, so the
SDK's ModelBuilder runs in pass-through mode (image + model data, no repacking).

Names: a model and its endpoint configuration share one unique name, ``<endpoint>-<timestamp>``, so
``update`` can create the new pair next to the old one and ``delete`` finds everything from the
endpoint (``deploy`` lets the SDK name the first configuration after the endpoint).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from training.cloud import alarms, autoscaling
from training.cloud.autoscaling import Scaling
from training.cloud.context import Cloud, CloudError, check_s3_uri, unique_name

#: The newest PyTorch inference image the SDK knows; ``model/`` is kept compatible with it.
INFERENCE_FRAMEWORK_VERSION = "2.6"
INFERENCE_PY_VERSION = "py312"
DEFAULT_INSTANCE = "ml.m5.large"
SERVERLESS_MEMORY_SIZES = (1024, 2048, 3072, 4096, 5120, 6144)
#: Poll every 15 s, give up after 45 minutes (endpoint creation usually takes 5-10).
WAIT = {"Delay": 15, "MaxAttempts": 180}
#: TorchServe batching in the PyTorch inference toolkit: more than 1 breaks the service (see
#: :func:`container_environment`).
TS_BATCH_SIZE = "SAGEMAKER_TS_BATCH_SIZE"


@dataclass(frozen=True)
class Capacity:
    """Real-time instances, or serverless memory and concurrency (``serverless=True``)."""

    instance_type: str = DEFAULT_INSTANCE
    instance_count: int = 1
    serverless: bool = False
    memory_mb: int = 2048
    max_concurrency: int = 5
    #: Real-time only: autoscaling bounds and target.
    scaling: Scaling = field(default_factory=Scaling)

    def validate(self) -> None:
        if self.serverless:
            if self.memory_mb not in SERVERLESS_MEMORY_SIZES:
                raise CloudError(f"--memory-mb must be one of {', '.join(map(str, SERVERLESS_MEMORY_SIZES))}")
            if not 1 <= self.max_concurrency <= 200:
                raise CloudError("--max-concurrency must be between 1 and 200")
        elif self.instance_count < 1:
            raise CloudError("--instance-count must be at least 1")
        else:
            self.scaling.validate(self.instance_count)


def inference_image(region: str, capacity: Capacity) -> str:
    """The PyTorch inference DLC (CPU for serverless, which has no GPUs)."""
    from sagemaker.core import image_uris

    return image_uris.retrieve(
        framework="pytorch",
        region=region,
        version=INFERENCE_FRAMEWORK_VERSION,
        py_version=INFERENCE_PY_VERSION,
        instance_type="ml.m5.large" if capacity.serverless else capacity.instance_type,
        image_scope="inference",
    )


def resolve_model_data(
    cloud: Cloud, model_data: str | None = None, training_job: str | None = None, tuning_job: str | None = None
) -> str:
    """The S3 URI of ``model.tar.gz``: given, or a completed training job's, or a tuning job's best."""
    from training.cloud.jobs import best, describe_training_job

    if model_data:
        return check_s3_uri(model_data, "--model-data")
    if tuning_job:
        job = best(cloud, tuning_job)["best"]
    elif training_job:
        job = describe_training_job(cloud, training_job)
    else:
        raise CloudError("say which model: --model-data s3://..., --training-job NAME or --tuning-job NAME")
    if job["status"] != "Completed" or not job["model_data"]:
        raise CloudError(f"training job {job['training_job']} is {job['status']}: no model to deploy yet")
    return job["model_data"]


def container_environment(region: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The model container's environment: the inference toolkit's defaults spelled out (handlers in
    ``code/inference.py`` of the archive), then ``extra`` (``--container-env``: e.g.
    ``SAGEMAKER_MODEL_SERVER_WORKERS``; any ``SAGEMAKER_TS_*`` variable also drops TorchServe to one worker
    unless ``SAGEMAKER_TS_MIN_WORKERS``/``MAX_WORKERS`` are set, see ``docs/serving.md``).

    Raises :class:`CloudError` for ``SAGEMAKER_TS_BATCH_SIZE`` other than 1. With TorchServe batching the
    toolkit (sagemaker-pytorch-inference 2.0.25) reads the Content-Type and Accept of the batch's first
    request for every request in it, a handler's response status lands on the first request whichever
    request set it, and one failing request makes the whole batch 503 "number of batch response
    mismatched"; the handlers cannot tell the requests apart (the toolkit passes no index).
    ``tests/test_serving_batching.py`` shows it on the real stack; ``docs/serving.md`` explains.
    """
    environment = {
        "SAGEMAKER_PROGRAM": "inference.py",
        "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
        "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
        "SAGEMAKER_REGION": region,
        **(extra or {}),
    }
    batch_size = environment.get(TS_BATCH_SIZE)
    if batch_size is not None and batch_size.strip() != "1":
        raise CloudError(
            f"{TS_BATCH_SIZE}={batch_size!r} refused: TorchServe batching in the PyTorch inference toolkit gives "
            "every request of a batch the first one's Content-Type and the wrong response status, and answers "
            "the whole batch 503 when one request fails (see docs/serving.md); leave it unset or 1"
        )
    return environment


def model_builder(
    cloud: Cloud,
    model_data: str,
    capacity: Capacity,
    verbose: bool = False,
    environment: Mapping[str, str] | None = None,
) -> Any:
    """A pass-through ModelBuilder: our model.tar.gz in the PyTorch inference image, its container
    environment from :func:`container_environment` (``environment`` added; CloudError when it breaks)."""
    env_vars = container_environment(cloud.region, environment)
    role = cloud.role_arn
    session = cloud.sagemaker_session
    from sagemaker.serve.model_builder import ModelBuilder

    return ModelBuilder(
        s3_model_data_url=model_data,
        image_uri=inference_image(cloud.region, capacity),
        role_arn=role,
        sagemaker_session=session,
        env_vars=env_vars,
        log_level=logging.INFO if verbose else logging.WARNING,
    )


def endpoint_status(cloud: Cloud, name: str) -> dict[str, Any] | None:
    """DescribeEndpoint, or None when there is no such endpoint."""
    return _describe_or_none(cloud, "describe_endpoint", EndpointName=name)


def deploy(
    cloud: Cloud,
    model_data: str,
    capacity: Capacity,
    wait: bool = True,
    verbose: bool = False,
    latency_alarm_ms: int = alarms.DEFAULT_LATENCY_MS,
    alarm_topic_arn: str | None = None,
    environment: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Create the stage's endpoint serving ``model_data``, then its autoscaling and alarms;
    ``environment``: extra container variables (:func:`container_environment`).

    An endpoint that already serves ``model_data`` is kept (its autoscaling and alarms are applied
    again); one serving another model is refused (``update`` switches models).
    """
    capacity.validate()
    container_environment(cloud.region, environment)  # refuse before anything is created
    name = cloud.settings.endpoint_name
    existing = endpoint_status(cloud, name)
    if existing:
        model_name, served = _served_model(cloud, existing)
        if existing["EndpointStatus"] == "Failed" or served != model_data:
            raise CloudError(
                f"endpoint {name} already exists ({existing['EndpointStatus']}, serving {served}): "
                "`update` switches it to a new model, `delete` removes it"
            )
    else:
        if _describe_or_none(cloud, "describe_endpoint_config", EndpointConfigName=name):
            raise CloudError(f"endpoint configuration {name} is left from an earlier deployment: `delete` removes it")
        model_name = _create(cloud, name, model_data, capacity, verbose, environment)
    status = wait_in_service(cloud, name) if wait else endpoint_status(cloud, name) or {}
    result = {**_summary(cloud, status, model_name, model_data), "existed": bool(existing)}
    if status.get("EndpointStatus") != "InService":
        result["autoscaling"] = "not yet: run the same deploy again once the endpoint is InService"
    elif not capacity.serverless:
        result["autoscaling"] = autoscaling.apply(cloud, name, capacity.scaling)
    result["alarms"] = alarms.apply(
        cloud, alarms.definitions(name, cloud.settings.dead_letter_queue, latency_alarm_ms, alarm_topic_arn)
    )
    return result


def _create(
    cloud: Cloud,
    name: str,
    model_data: str,
    capacity: Capacity,
    verbose: bool,
    environment: Mapping[str, str] | None = None,
) -> str:
    """Create the model, endpoint configuration and endpoint (without waiting); returns the model name."""
    builder = model_builder(cloud, model_data, capacity, verbose, environment)
    model_name = unique_name(name)
    builder.build(model_name=model_name)
    if capacity.serverless:
        from sagemaker.serve.serverless import ServerlessInferenceConfig

        serverless = ServerlessInferenceConfig(
            memory_size_in_mb=capacity.memory_mb, max_concurrency=capacity.max_concurrency
        )
        builder.deploy(endpoint_name=name, inference_config=serverless, wait=False)
    else:
        builder.deploy(
            endpoint_name=name,
            instance_type=capacity.instance_type,
            initial_instance_count=capacity.instance_count,
            wait=False,
        )
    return model_name


def _served_model(cloud: Cloud, endpoint: dict[str, Any]) -> tuple[str | None, str | None]:
    """The model an endpoint serves and its model data (None when its configuration is gone)."""
    config = _describe_or_none(cloud, "describe_endpoint_config", EndpointConfigName=endpoint["EndpointConfigName"])
    if not config:
        return None, None
    model_name = config["ProductionVariants"][0]["ModelName"]
    model = _describe_or_none(cloud, "describe_model", ModelName=model_name) or {}
    return model_name, model.get("PrimaryContainer", {}).get("ModelDataUrl")


def update(
    cloud: Cloud,
    model_data: str,
    wait: bool = True,
    keep_old: bool = False,
    verbose: bool = False,
    environment: Mapping[str, str] | None = None,
) -> dict:
    """Switch the stage's endpoint to ``model_data`` without downtime (``environment``: the new model's
    extra container variables, :func:`container_environment`).

    A new model and a new endpoint configuration (same capacity as the current one) are created and
    UpdateEndpoint swaps them in: SageMaker keeps serving the old model until the new one is healthy
    (and rolls back if it never gets healthy). Only once the endpoint is InService on the new
    configuration are the old configuration and its models deleted, unless ``keep_old`` (or not ``wait``).
    """
    container_environment(cloud.region, environment)  # refuse before anything is created
    name = cloud.settings.endpoint_name
    endpoint = endpoint_status(cloud, name)
    if not endpoint:
        raise CloudError(f"endpoint {name} does not exist: `deploy` creates it")
    if endpoint["EndpointStatus"] != "InService":
        raise CloudError(f"endpoint {name} is {endpoint['EndpointStatus']}: it can be updated once InService")
    client = cloud.sagemaker_client()
    old_config = client.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variants = old_config["ProductionVariants"]
    capacity = Capacity(serverless=all("ServerlessConfig" in v for v in variants))
    if not capacity.serverless:
        capacity = Capacity(instance_type=variants[0]["InstanceType"])

    new_name = unique_name(name)
    model_builder(cloud, model_data, capacity, verbose, environment).build(model_name=new_name)
    request = _copy_input(client, "CreateEndpointConfigInput", old_config)
    request["EndpointConfigName"] = new_name
    request["ProductionVariants"] = [
        {**_copy_input(client, "ProductionVariant", v), "ModelName": new_name} for v in variants
    ]
    client.create_endpoint_config(**request)
    # Keep the variant's current instance count and weight (autoscaling may have changed them); a new
    # model on a variant registered for autoscaling is an update AWS allows without deregistering it.
    client.update_endpoint(EndpointName=name, EndpointConfigName=new_name, RetainAllVariantProperties=True)
    old_name = old_config["EndpointConfigName"]
    if not wait:
        return {**_summary(cloud, endpoint_status(cloud, name) or {}, new_name, model_data), "kept": old_name}
    status = wait_in_service(cloud, name)
    if status["EndpointConfigName"] != new_name:  # SageMaker rolled the update back
        raise CloudError(
            f"endpoint {name} still serves {status['EndpointConfigName']}: the update to {new_name} failed"
            f" ({status.get('FailureReason', 'no reason given')}); both configurations and models are kept"
        )
    result = _summary(cloud, status, new_name, model_data)
    if keep_old:
        return {**result, "kept": old_name}
    return {**result, "deleted": _delete_config_and_models(cloud, old_name)}


def delete(cloud: Cloud) -> dict[str, list[str]]:
    """Delete the stage's endpoint, its autoscaling, alarms, endpoint configuration(s) and their models
    (what exists of them)."""
    name = cloud.settings.endpoint_name
    client = cloud.sagemaker_client()
    deleted: dict[str, list[str]] = {"endpoints": [], "endpoint_configs": [], "models": []}
    deleted["autoscaling"] = [autoscaling.resource_id(name)] if autoscaling.remove(cloud, name) else []
    names = [a["AlarmName"] for a in alarms.definitions(name, cloud.settings.dead_letter_queue)]
    deleted["alarms"] = alarms.remove(cloud, names)
    configs = [name]  # deploy names the first configuration after the endpoint
    endpoint = endpoint_status(cloud, name)
    if endpoint:
        configs.insert(0, endpoint["EndpointConfigName"])
        client.delete_endpoint(EndpointName=name)
        deleted["endpoints"].append(name)
    for config in dict.fromkeys(configs):
        for kind, names in _delete_config_and_models(cloud, config).items():
            deleted[kind] += names
    return deleted


def wait_in_service(cloud: Cloud, name: str) -> dict[str, Any]:
    """Wait until the endpoint is InService; a failed deployment becomes a one-line error with its reason."""
    from botocore.exceptions import WaiterError

    client = cloud.sagemaker_client()
    try:
        client.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=WAIT)
    except WaiterError:
        status = endpoint_status(cloud, name) or {}
        raise CloudError(
            f"endpoint {name} did not get InService: {status.get('EndpointStatus', 'gone')}"
            f" ({status.get('FailureReason', 'no reason given')})"
        ) from None
    return client.describe_endpoint(EndpointName=name)


def _summary(cloud: Cloud, status: dict[str, Any], model_name: str, model_data: str) -> dict[str, Any]:
    return {
        "endpoint": cloud.settings.endpoint_name,
        "status": status.get("EndpointStatus"),
        "endpoint_config": status.get("EndpointConfigName"),
        "model": model_name,
        "model_data": model_data,
        "region": cloud.region,
    }


def _delete_config_and_models(cloud: Cloud, config_name: str) -> dict[str, list[str]]:
    client = cloud.sagemaker_client()
    config = _describe_or_none(cloud, "describe_endpoint_config", EndpointConfigName=config_name)
    if not config:
        return {}
    client.delete_endpoint_config(EndpointConfigName=config_name)
    models = [
        model
        for model in dict.fromkeys(v["ModelName"] for v in config["ProductionVariants"])
        if _describe_or_none(cloud, "describe_model", ModelName=model)
    ]
    for model in models:
        client.delete_model(ModelName=model)
    return {"endpoint_configs": [config_name], "models": models}


def _copy_input(client: Any, shape: str, described: dict[str, Any]) -> dict[str, Any]:
    """The members of ``described`` (a Describe* answer) that the API shape ``shape`` accepts."""
    members = client.meta.service_model.shape_for(shape).members
    return {k: v for k, v in described.items() if k in members}


def _describe_or_none(cloud: Cloud, operation: str, **params: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        return getattr(cloud.sagemaker_client(), operation)(**params)
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", "")
        if error.response.get("Error", {}).get("Code") == "ValidationException" and (
            "Could not find" in message or "does not exist" in message
        ):
            return None
        raise

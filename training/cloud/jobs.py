"""Training data, managed-spot training jobs and hyperparameter tuning jobs (SageMaker SDK v3).

``train`` runs ``training/train.py`` (through :mod:`training.cloud.entry_point`) in the PyTorch training
container with :class:`~sagemaker.train.model_trainer.ModelTrainer`; ``tune`` wraps the same trainer
in a :class:`~sagemaker.train.tuner.HyperparameterTuner` over :data:`training.search_space.SEARCH_SPACE`.
Both scrape the per-epoch log line with :data:`training.metrics.METRIC_DEFINITIONS`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.cloud.context import Cloud, CloudError, check_resource_name, unique_name
from training.cloud.source import ENTRY_SCRIPT, REQUIREMENTS, stage_source
from training.metrics import METRIC_DEFINITIONS
from training.search_space import OBJECTIVE_METRIC, SEARCH_SPACE, Param

if TYPE_CHECKING:  # pragma: no cover
    from sagemaker.core.parameter import ParameterRange
    from sagemaker.train.model_trainer import ModelTrainer

#: The newest PyTorch training image the SDK's offline lookup knows (the project pins torch 2.14).
TRAINING_FRAMEWORK_VERSION = "2.10"
TRAINING_PY_VERSION = "py313"
DEFAULT_TRAINING_INSTANCE = "ml.m5.xlarge"
CHANNEL = "training"
FEEDBACK_CHANNEL = "feedback"
INIT_CHANNEL = "init"
#: The training split as ../shared/data/mnist holds it (the test split is never uploaded).
MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"
TRAIN_BASE_NAME = "digits-train"
TUNE_BASE_NAME = "digits-tune"
STRATEGIES = ("Bayesian", "Random", "Hyperband")


def upload_data(cloud: Cloud, data_dir: Path = DEFAULT_DATA_DIR) -> list[str]:
    """Put the MNIST training split into the training channel's S3 prefix; returns the object URIs."""
    files = [Path(data_dir) / name for name in MNIST_FILES]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise CloudError(f"MNIST training files missing: {', '.join(missing)} (see --data-dir)")
    bucket, prefix = cloud.bucket, cloud.key("data", "training")
    s3 = cloud.boto_session.client("s3")
    uris = []
    for path in files:
        s3.upload_file(str(path), bucket, prefix + path.name)
        uris.append(f"s3://{bucket}/{prefix}{path.name}")
    return uris


def training_image(region: str, instance_type: str, version: str = TRAINING_FRAMEWORK_VERSION) -> str:
    """The PyTorch training DLC for ``instance_type`` (CPU or GPU build), from the SDK's offline table."""
    from sagemaker.core import image_uris

    return image_uris.retrieve(
        framework="pytorch",
        region=region,
        version=version,
        py_version=TRAINING_PY_VERSION,
        instance_type=instance_type,
        image_scope="training",
    )


def parameter_ranges(space: tuple[Param, ...] = SEARCH_SPACE) -> dict[str, ParameterRange]:
    """The search space as SageMaker tuner ranges (log-uniform floats get logarithmic scaling)."""
    from sagemaker.core.parameter import CategoricalParameter, ContinuousParameter, IntegerParameter

    ranges: dict[str, ParameterRange] = {}
    for param in space:
        scaling = "Logarithmic" if param.log else "Linear"
        if param.kind == "float":
            ranges[param.name] = ContinuousParameter(param.low, param.high, scaling_type=scaling)
        elif param.kind == "int":
            ranges[param.name] = IntegerParameter(int(param.low), int(param.high), scaling_type=scaling)
        elif param.kind == "categorical":
            ranges[param.name] = CategoricalParameter(list(param.choices))
        else:
            raise ValueError(f"unknown kind {param.kind!r} of hyperparameter {param.name!r}")
    return ranges


@dataclass(frozen=True)
class TrainingSpec:
    """Everything that shapes the training jobs of ``train`` and ``tune``."""

    instance_type: str = DEFAULT_TRAINING_INSTANCE
    hyperparameters: dict[str, str] = field(default_factory=dict)
    spot: bool = True
    max_run_minutes: int = 60
    max_wait_minutes: int = 120
    volume_gb: int = 10
    framework_version: str = TRAINING_FRAMEWORK_VERSION
    #: Extra input channels (docs/feedback-loop.md): the ``feedback`` channel ($SM_CHANNEL_FEEDBACK) and the
    #: ``init`` channel holding the model.tar.gz a fine-tune starts from.
    feedback_uri: str | None = None
    init_model_uri: str | None = None

    def validate(self) -> None:
        if self.max_run_minutes < 1:
            raise CloudError("--max-run-minutes must be at least 1")
        if self.spot and self.max_wait_minutes < self.max_run_minutes:
            raise CloudError(
                f"--max-wait-minutes ({self.max_wait_minutes}) must be >= --max-run-minutes "
                f"({self.max_run_minutes}): spot capacity waits count against it"
            )


@contextmanager
def model_trainer(cloud: Cloud, spec: TrainingSpec, run_name: str) -> Iterator[ModelTrainer]:
    """A ModelTrainer for ``spec``, its code staged in a temporary folder that lives as long as the block."""
    spec.validate()
    role = cloud.role_arn
    session = cloud.sagemaker_session
    from sagemaker.core.shapes import MetricDefinition
    from sagemaker.core.training.configs import (
        CheckpointConfig,
        Compute,
        OutputDataConfig,
        SourceCode,
        StoppingCondition,
    )
    from sagemaker.train.model_trainer import ModelTrainer

    stopping = {"max_runtime_in_seconds": spec.max_run_minutes * 60}
    if spec.spot:
        stopping["max_wait_time_in_seconds"] = spec.max_wait_minutes * 60
    with tempfile.TemporaryDirectory(prefix="digits-source-") as folder:
        trainer = ModelTrainer(
            sagemaker_session=session,
            role=role,
            base_job_name=TRAIN_BASE_NAME,
            training_image=training_image(cloud.region, spec.instance_type, spec.framework_version),
            source_code=SourceCode(
                source_dir=str(stage_source(Path(folder))),
                entry_script=ENTRY_SCRIPT,
                requirements=REQUIREMENTS,
            ),
            compute=Compute(
                instance_type=spec.instance_type,
                instance_count=1,  # train.py is not distributed
                volume_size_in_gb=spec.volume_gb,
                enable_managed_spot_training=spec.spot,
            ),
            stopping_condition=StoppingCondition(**stopping),
            # One prefix per run; the entry point adds a folder per job (see entry_point.py).
            checkpoint_config=CheckpointConfig(s3_uri=cloud.s3_uri("checkpoints", run_name).rstrip("/")),
            output_data_config=OutputDataConfig(s3_output_path=cloud.output_uri.rstrip("/")),
            hyperparameters=dict(spec.hyperparameters),
        )
        metrics = [MetricDefinition(name=d["Name"], regex=d["Regex"]) for d in METRIC_DEFINITIONS]
        trainer.with_metric_definitions(metrics)
        yield trainer


def training_input(cloud: Cloud, spec: TrainingSpec | None = None) -> list[Any]:
    from sagemaker.core.training.configs import InputData

    channels = [InputData(channel_name=CHANNEL, data_source=cloud.training_data_uri)]
    if spec is not None and spec.feedback_uri:
        channels.append(InputData(channel_name=FEEDBACK_CHANNEL, data_source=spec.feedback_uri))
    if spec is not None and spec.init_model_uri:
        channels.append(InputData(channel_name=INIT_CHANNEL, data_source=spec.init_model_uri))
    return channels


def train(cloud: Cloud, spec: TrainingSpec, wait: bool = True) -> dict[str, Any]:
    """Start one training job (managed spot unless ``spec.spot`` is off); with ``wait``, follow its log."""
    run_name = unique_name(TRAIN_BASE_NAME)
    with model_trainer(cloud, spec, run_name) as trainer:
        trainer.train(input_data_config=training_input(cloud, spec), wait=wait, logs=wait)
        job_name = trainer._latest_training_job.training_job_name
    return describe_training_job(cloud, job_name)


def tune(
    cloud: Cloud,
    spec: TrainingSpec,
    strategy: str = "Bayesian",
    max_jobs: int = 12,
    max_parallel_jobs: int = 3,
    min_epochs: int = 2,
    wait: bool = True,
) -> dict[str, Any]:
    """Start a tuning job over SEARCH_SPACE that maximises the validation accuracy.

    Bayesian/Random stop hopeless jobs early (``Auto``); Hyperband does its own early stopping (the
    API then requires ``Off``) between ``min_epochs`` and the static ``epochs``.
    """
    if strategy not in STRATEGIES:
        raise CloudError(f"unknown strategy {strategy!r}: one of {', '.join(STRATEGIES)}")
    if not 1 <= max_parallel_jobs <= max_jobs:
        raise CloudError(f"need 1 <= --max-parallel-jobs ({max_parallel_jobs}) <= --max-jobs ({max_jobs})")
    tuned = {p.name for p in SEARCH_SPACE}
    clash = sorted(tuned & set(spec.hyperparameters))
    if clash:
        raise CloudError(f"{', '.join(clash)} tuned by the search space: do not also set them")
    strategy_config = None
    early_stopping = "Auto"
    if strategy == "Hyperband":
        from sagemaker.core.shapes import HyperbandStrategyConfig, HyperParameterTuningJobStrategyConfig

        epochs = int(spec.hyperparameters.get("epochs", 0))
        if not 1 <= min_epochs < epochs:
            raise CloudError(f"Hyperband needs --epochs (got {epochs or 'none'}) above --min-epochs ({min_epochs})")
        strategy_config = HyperParameterTuningJobStrategyConfig(
            hyperband_strategy_config=HyperbandStrategyConfig(min_resource=min_epochs, max_resource=epochs)
        )
        early_stopping = "Off"

    from sagemaker.train.tuner import HyperparameterTuner

    run_name = unique_name(TUNE_BASE_NAME)
    with model_trainer(cloud, spec, run_name) as trainer:
        tuner = HyperparameterTuner(
            model_trainer=trainer,
            objective_metric_name=OBJECTIVE_METRIC,
            objective_type="Maximize",
            hyperparameter_ranges=parameter_ranges(),
            metric_definitions=[dict(d) for d in METRIC_DEFINITIONS],  # not inherited from the trainer
            strategy=strategy,
            strategy_config=strategy_config,
            early_stopping_type=early_stopping,
            max_jobs=max_jobs,
            max_parallel_jobs=max_parallel_jobs,
            base_tuning_job_name=TUNE_BASE_NAME,
        )
        tuner.tune(inputs=training_input(cloud, spec), wait=False)
        tuning_job_name = tuner.latest_tuning_job.hyper_parameter_tuning_job_name
    if wait:
        tuner.wait()
        return best(cloud, tuning_job_name)
    return {"tuning_job": tuning_job_name, "status": "InProgress"}


def describe_training_job(cloud: Cloud, job_name: str) -> dict[str, Any]:
    """Status, model artifact, final metrics and hyperparameters of a training job."""
    job = _describe(cloud, "describe_training_job", TrainingJobName=check_resource_name("training job", job_name))
    return {
        "training_job": job["TrainingJobName"],
        "status": job["TrainingJobStatus"],
        "model_data": job.get("ModelArtifacts", {}).get("S3ModelArtifacts"),
        "metrics": {m["MetricName"]: m["Value"] for m in job.get("FinalMetricDataList", [])},
        "hyperparameters": {k: v for k, v in job.get("HyperParameters", {}).items() if not k.startswith("sagemaker_")},
        "billable_seconds": job.get("BillableTimeInSeconds"),
        "training_seconds": job.get("TrainingTimeInSeconds"),
        "spot": job.get("EnableManagedSpotTraining", False),
    }


def best(cloud: Cloud, tuning_job_name: str) -> dict[str, Any]:
    """The best training job of a tuning job, with its objective and final metrics."""
    tuning = _describe(
        cloud,
        "describe_hyper_parameter_tuning_job",
        HyperParameterTuningJobName=check_resource_name("tuning job", tuning_job_name),
    )
    summary = {
        "tuning_job": tuning["HyperParameterTuningJobName"],
        "status": tuning["HyperParameterTuningJobStatus"],
        "training_jobs": tuning.get("TrainingJobStatusCounters", {}),
    }
    best_job = tuning.get("BestTrainingJob")
    if not best_job:
        raise CloudError(f"tuning job {tuning_job_name} has no best training job yet (status {summary['status']})")
    objective = best_job.get("FinalHyperParameterTuningJobObjectiveMetric", {})
    summary["objective"] = {objective.get("MetricName", OBJECTIVE_METRIC): objective.get("Value")}
    summary["tuned_hyperparameters"] = best_job.get("TunedHyperParameters", {})
    summary["best"] = describe_training_job(cloud, best_job["TrainingJobName"])
    return summary


def _describe(cloud: Cloud, operation: str, **params: str) -> dict[str, Any]:
    """A Describe* call whose 'not found' becomes a one-line :class:`CloudError`."""
    from botocore.exceptions import ClientError

    client = cloud.sagemaker_client()
    try:
        return getattr(client, operation)(**params)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("ValidationException", "ResourceNotFound"):
            raise CloudError(f"{' '.join(params.values())}: {error.response['Error'].get('Message')}") from None
        raise


def as_text(result: dict[str, Any]) -> str:
    return json.dumps(result, indent=2, default=str)

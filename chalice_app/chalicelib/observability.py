"""Powertools Logger, Tracer and metrics, shared by the routes and the S3 trigger.

* Logger: JSON lines; ``correlation_id`` is the API request id or the inbox object's ``s3://`` URI
  (thread-local keys: the local event bridge runs handlers in threads).
* Tracer: X-Ray subsegments for our calls and patched boto3 calls, when the X-Ray SDK is importable
  (locally it is, and ``POWERTOOLS_TRACE_DISABLED`` switches it off; in Lambda it comes with the
  Powertools layer, see ``requirements.txt``). Without it :func:`capture` changes nothing and Lambda's
  active tracing still records each invocation.
* Metrics: CloudWatch EMF lines, namespace :data:`NAMESPACE`. One self-contained line per prediction
  (``EphemeralMetrics``: no state shared between threads), dimensions ``source`` and ``status``.
  ``POWERTOOLS_METRICS_DISABLED=true`` silences them.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec
from typing import TypeVar

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "DigitRecognition"

logger = Logger()
tracer = Tracer() if find_spec("aws_xray_sdk") else None

F = TypeVar("F", bound=Callable)


def capture(method: F) -> F:
    """``tracer.capture_method`` when tracing is available, else the method unchanged."""
    return tracer.capture_method(method) if tracer is not None else method


def record_prediction(
    source: str, status: str, latency_ms: float | None = None, confidence: float | None = None
) -> None:
    """Emit the metrics of one finished prediction: its count, endpoint latency and confidence."""
    metrics = EphemeralMetrics(namespace=NAMESPACE)
    metrics.add_dimension(name="source", value=source)
    metrics.add_dimension(name="status", value=status)
    metrics.add_metric(name="Predictions", unit=MetricUnit.Count, value=1)
    if latency_ms is not None:
        metrics.add_metric(name="EndpointLatency", unit=MetricUnit.Milliseconds, value=latency_ms)
    if confidence is not None:
        metrics.add_metric(name="Confidence", unit=MetricUnit.Percent, value=round(confidence * 100, 3))
    metrics.flush_metrics()

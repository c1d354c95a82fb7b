"""Powertools Logger, Tracer and metrics, shared by the routes and the S3 trigger.

* Logger: JSON lines; ``correlation_id`` is the API request id or the inbox object's ``s3://`` URI
  (thread-local keys: the local event bridge runs handlers in threads).
* Tracer: X-Ray subsegments for our calls and patched boto3 calls; off outside Lambda and when
  ``POWERTOOLS_TRACE_DISABLED`` is set (the local stage).
* Metrics: CloudWatch EMF lines, namespace :data:`NAMESPACE`. One self-contained line per prediction
  (``EphemeralMetrics``: no state shared between threads), dimensions ``source`` and ``status``.
  ``POWERTOOLS_METRICS_DISABLED=true`` silences them.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "DigitRecognition"

logger = Logger()
tracer = Tracer()


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

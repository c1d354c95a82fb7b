"""CloudWatch alarms of a deployed stage: the endpoint's errors and latency, the inbox dead-letter queue.

* ``<endpoint>-invocation-errors``: any ``Invocation5XXErrors`` in 5 minutes (the model crashed or the
  container failed; a refused image is a 4XX and no alarm);
* ``<endpoint>-model-latency``: ``ModelLatency`` p99 over the threshold in 2 of 3 five-minute periods
  (the metric is in microseconds);
* ``<dead-letter queue>-depth``: any message waiting in the inbox dead-letter queue (an upload the S3
  function gave up on: re-drive it with ``python -m ops.redrive``).

No data is "not breaching" (an idle endpoint is fine). With a topic, each alarm notifies it when it
fires and when it recovers. PutMetricAlarm replaces an alarm of the same name: applying it again is harmless.
"""

from __future__ import annotations

from typing import Any

from training.cloud.autoscaling import VARIANT
from training.cloud.context import Cloud

PERIOD_S = 300
DEFAULT_LATENCY_MS = 500


def definitions(
    endpoint: str, dead_letter_queue: str | None, latency_ms: int = DEFAULT_LATENCY_MS, topic_arn: str | None = None
) -> list[dict[str, Any]]:
    """The PutMetricAlarm requests, in order."""
    actions = {"AlarmActions": [topic_arn], "OKActions": [topic_arn]} if topic_arn else {}
    common = {"Period": PERIOD_S, "TreatMissingData": "notBreaching", "ActionsEnabled": True, **actions}
    variant = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": VARIANT}]
    alarms = [
        {
            "AlarmName": f"{endpoint}-invocation-errors",
            "AlarmDescription": f"{endpoint} answered 5XX: the model or its container failed",
            "Namespace": "AWS/SageMaker",
            "MetricName": "Invocation5XXErrors",
            "Dimensions": variant,
            "Statistic": "Sum",
            "EvaluationPeriods": 1,
            "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold",
            **common,
        },
        {
            "AlarmName": f"{endpoint}-model-latency",
            "AlarmDescription": f"{endpoint}: model latency p99 above {latency_ms} ms",
            "Namespace": "AWS/SageMaker",
            "MetricName": "ModelLatency",
            "Dimensions": variant,
            "ExtendedStatistic": "p99",
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2,
            "Threshold": float(latency_ms * 1000),
            "ComparisonOperator": "GreaterThanThreshold",
            **common,
        },
    ]
    if dead_letter_queue:
        alarms.append(
            {
                "AlarmName": f"{dead_letter_queue}-depth",
                "AlarmDescription": f"inbox events wait in {dead_letter_queue}: re-drive them (python -m ops.redrive)",
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": dead_letter_queue}],
                "Statistic": "Maximum",
                "EvaluationPeriods": 1,
                "Threshold": 0.0,
                "ComparisonOperator": "GreaterThanThreshold",
                **common,
            }
        )
    return alarms


def apply(cloud: Cloud, alarms: list[dict[str, Any]]) -> list[str]:
    """Put every alarm; returns their names."""
    client = cloud.boto_session.client("cloudwatch")
    for alarm in alarms:
        client.put_metric_alarm(**alarm)
    return [alarm["AlarmName"] for alarm in alarms]


def remove(cloud: Cloud, names: list[str]) -> list[str]:
    """Delete those of ``names`` that exist; returns them."""
    client = cloud.boto_session.client("cloudwatch")
    existing = [a["AlarmName"] for a in client.describe_alarms(AlarmNames=names)["MetricAlarms"]]
    if existing:
        client.delete_alarms(AlarmNames=existing)
    return existing

"""A check of CloudWatch Embedded Metric Format documents after the published specification (the ``_aws``
structure CloudWatch Logs extracts metrics from)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def emf_problems(line: Mapping[str, Any]) -> list[str]:
    """Why CloudWatch would not extract metrics from ``line`` (empty when it would), after the documented
    specification of the Embedded Metric Format."""
    problems: list[str] = []
    aws = line.get("_aws")
    if not isinstance(aws, dict):
        return ["no _aws object"]
    timestamp = aws.get("Timestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or timestamp <= 0:
        problems.append("Timestamp is not a positive integer (ms since the epoch)")
    directives = aws.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return [*problems, "CloudWatchMetrics is not a non-empty list"]
    for directive in directives:
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str) or not 1 <= len(namespace) <= 255:
            problems.append("Namespace is not a string of 1 to 255 characters")
        dimensions = directive.get("Dimensions")
        if not isinstance(dimensions, list) or not all(isinstance(d, list) for d in dimensions):
            problems.append("Dimensions is not a list of lists")
            dimensions = []
        for dimension_set in dimensions:
            if len(dimension_set) > 30:
                problems.append("more than 30 dimensions in a set")
            for name in dimension_set:
                if not isinstance(name, str) or not isinstance(line.get(name), str):
                    problems.append(f"dimension {name!r} is not a top-level string field")
        metrics = directive.get("Metrics")
        if not isinstance(metrics, list) or not 1 <= len(metrics) <= 100:
            problems.append("Metrics is not a list of 1 to 100 metrics")
            metrics = []
        for metric in metrics:
            name = metric.get("Name") if isinstance(metric, dict) else None
            if not isinstance(name, str) or not name:
                problems.append(f"metric without a name: {metric!r}")
                continue
            if not isinstance(metric.get("Unit", "None"), str):
                problems.append(f"metric {name}: Unit is not a string")
            value = line.get(name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                problems.append(f"metric {name} is not a top-level number")
    return problems

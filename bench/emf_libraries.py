"""Cost of writing the request's metrics as CloudWatch EMF: directly (scorer_lambda.metrics) or through a library.

    python -m bench.emf_libraries      (with the scorer's requirements plus aws-embedded-metrics 3.5.0 and
                                        aws-lambda-powertools 3.37.0, e.g. a separate venv on PYTHONPATH;
                                        neither library is a dependency of the scorer)

For each way, prints the import time in a fresh interpreter that has already imported what the handler imports
anyway (psycopg, json, logging, dataclasses; median of 15) and the per-request time to build and
serialise one EMF line with the scorer's 12 metrics and its Route dimension (median of 7 batches of 5,000),
written to an in-memory stream. The libraries' serialisers are called synchronously (aws-embedded-metrics' own
``flush`` is a coroutine that also detects the environment; Powertools' ``serialize_metric_set`` is what its
``log_metrics`` decorator calls at the end of an invocation). A script that prints numbers, not a test.
"""

from __future__ import annotations

import io
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "PassportScorer"
VALUES = {"Latency": 12.345, "DbTime": 4.321, "DbRoundTrips": 5, "StampsChecked": 4, "StampsValid": 4,
          "DedupClashes": 0, "LinkRetries": 0, "ScorePassing": 1, "ColdStart": 0, "Errors5xx": 0, "Errors4xx": 0,
          "RateLimited": 0}
UNITS = {"Latency": "Milliseconds", "DbTime": "Milliseconds"}
FIELDS = {"route": "E1", "surface": "v2", "method": "GET", "status": 200, "duration_ms": 12.345}
IMPORTS = {
    "direct (scorer_lambda.metrics)": "import scorer_lambda.metrics",
    "aws-embedded-metrics 3.5.0": "from aws_embedded_metrics.logger.metrics_context import MetricsContext\n"
                                  "from aws_embedded_metrics.serializers.log_serializer import LogSerializer",
    "aws-lambda-powertools 3.37.0 Metrics": "from aws_lambda_powertools import Metrics",
}


# What the handler has imported before any of these (so only each way's own modules are timed).
PREAMBLE = "import dataclasses, functools, json, logging, psycopg"


def import_ms(statement: str, runs: int = 15) -> float:
    code = f"{PREAMBLE}\nimport time\nt = time.perf_counter()\n{statement}\nprint((time.perf_counter() - t) * 1000)"
    samples = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                    cwd=ROOT).stdout) for _ in range(runs)]
    return statistics.median(samples)


def direct() -> Callable[[io.StringIO], None]:
    from scorer_lambda.metrics import RequestMeasures, ScoringMeasures, emf_fields

    def write(out: io.StringIO) -> None:
        measures = RequestMeasures(route="E1", status=200, latency_ms=12.345, db_ms=4.321, db_round_trips=5,
                                   cold_start=False, scoring=ScoringMeasures(4, 4, 0, 0, True))
        fields = emf_fields(measures, namespace=NAMESPACE, timestamp_ms=int(time.time() * 1000))
        aws = fields.pop("_aws")  # spliced in as JsonFormatter does
        out.write('{"_aws":' + aws + "," + json.dumps({**FIELDS, **fields})[1:] + "\n")
    return write


def embedded_metrics() -> Callable[[io.StringIO], None]:
    from aws_embedded_metrics.logger.metrics_context import MetricsContext
    from aws_embedded_metrics.serializers.log_serializer import LogSerializer

    serializer = LogSerializer()

    def write(out: io.StringIO) -> None:
        context = MetricsContext.empty()
        context.namespace = NAMESPACE
        context.set_dimensions([{"Route": "E1"}, {}], use_default=False)
        for name, value in VALUES.items():
            context.put_metric(name, value, UNITS.get(name, "Count"))
        for key, value in FIELDS.items():
            context.set_property(key, value)
        for line in serializer.serialize(context):
            out.write(line + "\n")
    return write


def powertools() -> Callable[[io.StringIO], None]:
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.metrics import MetricUnit

    metrics = Metrics(namespace=NAMESPACE, service="bench")

    def write(out: io.StringIO) -> None:
        metrics.add_dimension(name="Route", value="E1")
        for name, value in VALUES.items():
            unit = MetricUnit.Milliseconds if name in UNITS else MetricUnit.Count
            metrics.add_metric(name=name, unit=unit, value=value)
        for key, value in FIELDS.items():
            metrics.add_metadata(key=key, value=value)
        out.write(json.dumps(metrics.serialize_metric_set()) + "\n")
        metrics.clear_metrics()
    return write


def per_request_us(write: Callable[[io.StringIO], None], batch: int = 5000, batches: int = 7) -> float:
    out = io.StringIO()
    for _ in range(500):
        write(out)
    samples = []
    for _ in range(batches):
        out = io.StringIO()
        started = time.perf_counter()
        for _ in range(batch):
            write(out)
        samples.append((time.perf_counter() - started) / batch * 1e6)
    return statistics.median(samples)


def main() -> int:
    builders = dict(zip(IMPORTS, (direct, embedded_metrics, powertools), strict=True))
    print(f"Python {sys.version.split()[0]}")
    print(f"{'way':40} {'import ms':>10} {'per request µs':>15}")
    for name, statement in IMPORTS.items():
        sample = io.StringIO()
        builders[name]()(sample)
        print(f"{name:40} {import_ms(statement):10.2f} {per_request_us(builders[name]()):15.1f}")
        print(f"    {sample.getvalue().strip()[:200]}…")
    return 0


if __name__ == "__main__":
    sys.exit(main())

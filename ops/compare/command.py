"""`python -m ops compare`: wire the stack file, the request file, the environment's credentials and a transport to
the comparison engine, and hand the result to the CLI (production contract P11.2).

Function names come from the stack file's program (the scorer and the legacy Lambdas of the shared routes) and from
the legacy deployment for E6/E7/E8 (`--legacy-function ROUTE=NAME` overrides); the region from `aws:region`, like the
other commands. Exit codes: 0 identical, 1 differences or failed requests, 2 usage/config, 3 AWS (credentials,
profile, region): one line, no traceback.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import NoCredentialsError, NoRegionError

from components.inventory import SCORER_FUNCTION_NAME, SCORER_TARGET_GROUPS, function_name_problem
from components.override_header import Side
from ops.compare.engine import MAX_CONCURRENCY, run_comparison
from ops.compare.events import alb_event, trace_id_for
from ops.compare.progress import Progress
from ops.compare.report import comparison_data, comparison_text
from ops.compare.request_file import (
    CompareRequest,
    Credentials,
    RequestFile,
    RequestFileError,
    load_request_file,
    read_credentials,
)
from ops.compare.routes import COMPARE_ROUTES
from ops.compare.summary import summarise
from ops.compare.transport import FatalTransportError, HttpTransport, LambdaTransport, Transport
from ops.context import StackContext
from ops.errors import EXIT_CHECK_FAILED, EXIT_OK, AwsError, ConfigError, aws_errors
from ops.live_commands import AwsTarget
from ops.result import Result

# Longer than the slowest function's timeout (legacy model score: 90 s), so a slow answer is not cut off by the client.
INVOKE_READ_TIMEOUT_S = 120


@dataclass(frozen=True)
class CompareOptions:
    """The command line of `compare`, parsed."""

    requests_path: Path
    report_path: Path | None = None
    concurrency: int = 4
    via_url: str | None = None
    via_internal_url: str | None = None
    legacy_functions: Mapping[str, str] = field(default_factory=dict)  # route key → function name
    http_timeout_s: float = 60.0


def compare_command(target: AwsTarget, options: CompareOptions, *, environ: Mapping[str, str] | None = None,
                    progress_stream: TextIO | None = None, lambda_client: Any = None) -> Result:
    """Send every request of the file to both sides, compare, write the report; exit 0 iff all identical."""
    if not 1 <= options.concurrency <= MAX_CONCURRENCY:
        raise ConfigError(f"--concurrency must be 1..{MAX_CONCURRENCY}, got {options.concurrency}")
    if options.report_path is not None and not options.report_path.parent.is_dir():
        raise ConfigError(f"--report: directory {options.report_path.parent} does not exist")
    context = target.context()
    try:
        request_file = load_request_file(options.requests_path)
        credentials = read_credentials(request_file, os.environ if environ is None else environ)
    except RequestFileError as exc:
        raise ConfigError(str(exc)) from None
    run_id = uuid.uuid4().hex
    if options.via_url or options.via_internal_url:
        transport: Transport = _http_transport(context, request_file, credentials, options, run_id)
        via = "the load balancer with the override header"
        where: dict[str, Any] = {"urls": {"public": options.via_url, "internal": options.via_internal_url}}
    else:
        functions = _functions(request_file, options.legacy_functions)
        with aws_errors(context.region):
            client, region = lambda_client or _lambda_client(target, context, options.concurrency), context.region
        transport = LambdaTransport(client, functions, _event_builder(context, request_file, credentials, run_id,
                                                                      functions), region)
        via = "Lambda Invoke"
        where = {"region": region, "functions": {f"{route} {side}": name for (route, side), name in
                                                 sorted(functions.items())}}
    progress = Progress(len(request_file.requests), progress_stream or sys.stderr)
    try:
        results = run_comparison(request_file.requests, transport, concurrency=options.concurrency,
                                 on_result=progress)
    except FatalTransportError as exc:
        raise AwsError(str(exc)) from None
    finally:
        progress.close()
    data = comparison_data(results, summarise(results), {"stack": context.stack, "via": via, "run_id": run_id,
                                                         **where})
    if options.report_path is not None:
        try:
            options.report_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot write the report {options.report_path}: {exc.strerror or exc}") from None
        data["report"] = str(options.report_path)
    return Result(data, comparison_text(data), EXIT_OK if data["identical"] else EXIT_CHECK_FAILED)


def _functions(request_file: RequestFile, overrides: Mapping[str, str]) -> dict[tuple[str, Side], str]:
    """(route, side) → function name for every route of the file."""
    for route, name in overrides.items():
        if route not in COMPARE_ROUTES:
            raise ConfigError(f"--legacy-function: unknown route {route!r} (compare sends {', '.join(COMPARE_ROUTES)})")
        if problem := function_name_problem(name):
            raise ConfigError(f"--legacy-function {route}: {problem}")
    functions: dict[tuple[str, Side], str] = {}
    for route in {r.route for r in request_file.requests}:
        functions[(route.key, "legacy")] = overrides.get(route.key, route.legacy_function)
        functions[(route.key, "scorer")] = SCORER_FUNCTION_NAME
    return functions


def _lambda_client(target: AwsTarget, context: StackContext, concurrency: int) -> Any:
    """A Lambda client for the stack's region; no credentials or region is an AWS error before any request."""
    session = boto3.Session(profile_name=target.profile, region_name=context.region)
    if session.region_name is None:
        raise NoRegionError()
    context.check_region(session.region_name)
    if session.get_credentials() is None:
        raise NoCredentialsError()
    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=10,
                    read_timeout=INVOKE_READ_TIMEOUT_S, max_pool_connections=max(10, concurrency * 2))
    return session.client("lambda", config=config)


def _event_builder(context: StackContext, request_file: RequestFile, credentials: Credentials, run_id: str,
                   functions: Mapping[tuple[str, Side], str]) -> Any:
    """The ALB event of each side: same request, each side's own target group named in `requestContext`."""
    legacy_tgs = {f.name: f.tg_name for f in context.settings.legacy_functions.values()}
    account = next((arn.split(":")[4] for arn in context.listener_arns.values() if arn), "000000000000")

    def event(request: CompareRequest, side: Side) -> dict[str, Any]:
        alb = request.route.alb
        function = functions[(request.route.key, side)]
        tg = SCORER_TARGET_GROUPS[alb] if side == "scorer" else legacy_tgs.get(function, f"l-{function}")[:32]
        arn = f"arn:aws:elasticloadbalancing:{context.region}:{account}:targetgroup/{tg}/0000000000000000"
        return alb_event(request, credentials, host=request_file.hosts[alb], trace_id=trace_id_for(run_id,
                                                                                                     request.index),
                         target_group_arn=arn)

    return event


def _http_transport(context: StackContext, request_file: RequestFile, credentials: Credentials,
                    options: CompareOptions, run_id: str) -> HttpTransport:
    """Through the load balancer: only routes with override rules, and a base URL for each ALB the file uses."""
    header = context.settings.override_header
    if header is None:
        raise ConfigError(f"--via-url needs the override header, which stack '{context.stack}' disables "
                          "(scorerOverrideHeader: false); compare with Lambda Invoke instead (no --via-url)")
    without_rules = sorted({r.route.key for r in request_file.requests if r.route.shared_route is None},
                           key=list(COMPARE_ROUTES).index)
    if without_rules:
        raise ConfigError(f"{', '.join(without_rules)}: no override rule on the load balancer (not a shared endpoint "
                          "of this program), so the header cannot choose a side; compare them without --via-url")
    bases = {"public": options.via_url, "internal": options.via_internal_url}
    for alb, flag in (("public", "--via-url"), ("internal", "--via-internal-url")):
        routes = sorted({r.route.key for r in request_file.requests if r.route.alb == alb})
        if routes and not bases[alb]:
            raise ConfigError(f"{', '.join(routes)} go to the {alb} load balancer: give its base URL with {flag}")
    try:
        return HttpTransport({alb: url for alb, url in bases.items() if url}, header, credentials,
                             lambda request: trace_id_for(run_id, request.index), options.http_timeout_s)
    except ValueError as exc:
        raise ConfigError(f"--via-url: {exc}") from None

"""`python -m ops`: the rollout operations CLI (style guide §2.15). argparse front end only: parse, call a command,
print its table (or JSON with --json) to stdout, log to stderr, and map every error to one line and an exit code.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from components.settings import PROJECT_DIR
from ops.advance import advance_command
from ops.compare.command import CompareOptions, compare_command
from ops.config_commands import plan_command, rollback_file_command, set_command
from ops.errors import EXIT_AWS, EXIT_CODES_HELP, OpsError, describe_aws_error
from ops.live_commands import AwsTarget, health_command, rollback_now_command, status_command
from ops.preflight_command import preflight_command
from ops.result import PartialFailure, Result

logger = logging.getLogger("ops")
EXIT_INTERRUPTED = 130

DESCRIPTION = """Rollout operations for the scorer/legacy weighted routing (README "Operating a rollout").

  plan      routing table and invariants from Pulumi.<stack>.yaml (offline; --percent N to preview a change)
  status    live weights and stickiness of the shared rules (8 + extraSharedRoutes), each against its own
            percentage, and the 16 override header rules, with drift
  preflight before the first deploy: every live rule of both listeners vs the plan (conflict, adopt, shadowed)
  health    CloudWatch: scorer vs legacy target groups per ALB, PASS / FAIL / INSUFFICIENT DATA
  set       change scorerPercent (--route KEY: one route's scorerPercentByRoute entry) in Pulumi.<stack>.yaml
            (comments and layout kept) and print the pulumi commands
  advance   next rolloutSteps step once health PASSes and the hold time has passed; --apply runs pulumi up
  rollback  every percentage 0 in the stack file; --now also sets every live shared rule to [100, 0], stickiness off
  compare   the same read requests to the legacy and the scorer function (Lambda Invoke, or --via-url through the
            load balancer with the override header); per-route summary, JSON report; exit 0 iff identical"""

COMPARE_EPILOG = """request file (JSON; example: ops/examples/compare-requests.json):
  {"api_key_env": "SCORER_COMPARE_API_KEY", "jwt_env": "SCORER_COMPARE_JWT",
   "requests": [{"route": "E1", "scorer_id": 335, "addresses": ["0x…"]}, {"route": "E7"}, …]}
  routes E1, E6, E7, E8, E10, E11 only (write routes are refused); credentials come from the environment variables
  the file names, never from the file.

"""


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", required=True, help="stack name: staging, review, production, …")
    common.add_argument("--stack-dir", type=Path, default=PROJECT_DIR,
                        help="directory holding Pulumi.<stack>.yaml (default: the project directory)")
    common.add_argument("--json", action="store_true", help="print JSON instead of tables")
    common.add_argument("-v", "--verbose", action="count", default=0, help="log more to stderr (-vv: boto debug)")
    aws = argparse.ArgumentParser(add_help=False)
    aws.add_argument("--region", help="AWS region (default: aws:region of the stack file)")
    aws.add_argument("--profile", help="AWS profile (default: the SDK's credential chain, e.g. AWS_PROFILE)")
    aws.add_argument("--public-listener-arn", help="override publicListenerArn of the stack file")
    aws.add_argument("--internal-listener-arn", help="override internalListenerArn (e.g. with coreInfraStack)")

    parser = argparse.ArgumentParser(prog="python -m ops", description=DESCRIPTION, epilog=EXIT_CODES_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    plan = commands.add_parser("plan", parents=[common], help="routing table and invariants (offline)",
                               epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    plan.add_argument("--percent", metavar="N", help="show the plan at scorerPercent N instead of the config's")
    for name, text in (("status", "live weights and drift"),
                       ("preflight", "live rules vs the plan before a first deploy"),
                       ("health", "scorer vs legacy metrics and verdict")):
        sub = commands.add_parser(name, parents=[common, aws], help=text, epilog=EXIT_CODES_HELP,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        if name == "health":
            sub.add_argument("--since", default="1h", help="window length: 30m, 1h, 6h, 2d (default 1h)")
            sub.add_argument("--until", type=_utc_time, help="window end, ISO 8601 (default: now)")
            sub.add_argument("--min-requests", type=int, help="override rolloutHealth.minRequests")
    set_ = commands.add_parser("set", parents=[common], help="change scorerPercent in the stack file",
                               epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    set_.add_argument("percent", metavar="PERCENT", help="integer 0..100")
    set_.add_argument("--route", metavar="KEY", help="set scorerPercentByRoute.KEY instead of scorerPercent (a shared "
                      "route key, e.g. cc-bulk-post; see `plan`)")
    rollback = commands.add_parser("rollback", parents=[common, aws], help="scorerPercent 0 (and --now: live rules)",
                                   epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    rollback.add_argument("--now", action="store_true",
                          help="also ModifyRule every live shared rule to [100, 0] with stickiness off")
    advance = commands.add_parser("advance", parents=[common, aws], help="next rollout step, gated on health and "
                                  "hold time", epilog=EXIT_CODES_HELP,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    advance.add_argument("--route", metavar="KEY", help="advance one route's scorerPercentByRoute entry instead of "
                         "scorerPercent")
    advance.add_argument("--since", help="health window (default: rolloutHoldMinutes, e.g. 60m)")
    advance.add_argument("--apply", action="store_true", help="then run `pulumi up` for the stack (Pulumi Automation "
                         "API, needs the pulumi CLI) and `status`")
    compare = commands.add_parser("compare", parents=[common, aws], help="same requests to both sides, compared",
                                  epilog=COMPARE_EPILOG + EXIT_CODES_HELP,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    compare.add_argument("--requests", required=True, type=Path, metavar="FILE", help="the request file (JSON)")
    compare.add_argument("--report", type=Path, metavar="FILE", help="write every difference and error as JSON")
    compare.add_argument("--concurrency", type=int, default=4, metavar="N",
                         help="requests in flight at once (default 4, at most 32)")
    compare.add_argument("--via-url", metavar="BASE", help="send through the public load balancer at BASE (e.g. "
                         "https://api.passport.xyz) with the override header instead of Lambda Invoke")
    compare.add_argument("--via-internal-url", metavar="BASE", help="base URL of the internal load balancer for "
                         "E10/E11 with --via-url")
    compare.add_argument("--legacy-function", action="append", default=[], metavar="ROUTE=NAME", type=_route_name,
                         help="legacy function of a route (default: the program's, or the legacy deployment's "
                              "cc-v1-score-GET-0 / cc-weights-GET-0 / cc-v1-st-GET-0 for E6 / E7 / E8)")
    compare.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                         help="HTTP timeout per request with --via-url (default 60)")
    return parser


def _route_name(text: str) -> tuple[str, str]:
    route, sep, name = text.partition("=")
    if not sep or not route.strip() or not name.strip():
        raise argparse.ArgumentTypeError(f"expected ROUTE=NAME, e.g. E6=cc-v1-score-GET-0, got {text!r}")
    return route.strip().upper(), name.strip()


def _utc_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone, e.g. {text}Z")
    return value


def run(args: argparse.Namespace) -> Result:
    if args.command == "plan":
        return plan_command(args.stack, args.stack_dir, args.percent)
    if args.command == "set":
        return set_command(args.stack, args.stack_dir, args.percent, args.route)
    if args.command == "rollback" and not args.now:
        return rollback_file_command(args.stack, args.stack_dir)
    target = AwsTarget(args.stack, args.stack_dir, args.region, args.profile, args.public_listener_arn,
                       args.internal_listener_arn)
    if args.command == "status":
        return status_command(target)
    if args.command == "preflight":
        return preflight_command(target)
    if args.command == "health":
        return health_command(target, args.since, until=args.until, min_requests=args.min_requests)
    if args.command == "advance":
        return advance_command(target, args.route, apply=args.apply, since=args.since)
    if args.command == "compare":
        return compare_command(target, CompareOptions(
            requests_path=args.requests, report_path=args.report, concurrency=args.concurrency,
            via_url=args.via_url, via_internal_url=args.via_internal_url,
            legacy_functions=dict(args.legacy_function), http_timeout_s=args.timeout))
    return rollback_now_command(target)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        result = run(args)
    except PartialFailure as exc:
        _emit(exc.partial, args.json)
        return _fail(str(exc), exc.exit_code)
    except OpsError as exc:
        return _fail(str(exc), exc.exit_code)
    except (ClientError, BotoCoreError) as exc:  # commands wrap their AWS calls; this is the safety net
        logger.debug("AWS error", exc_info=True)
        return _fail(describe_aws_error(exc, getattr(args, "region", None)), EXIT_AWS)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    _emit(result, args.json)
    return result.exit_code


def _emit(result: Result, as_json: bool) -> None:
    print(json.dumps(result.data, indent=2, default=str) if as_json else result.text)
    sys.stdout.flush()


def _fail(message: str, code: int) -> int:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return code


def _configure_logging(verbosity: int) -> None:
    """Warnings of this tool on stderr; -v adds its progress, -vv its debug output and botocore's."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    ops_level = logging.DEBUG if verbosity >= 2 else logging.INFO if verbosity == 1 else logging.WARNING
    for name, level in (("ops", ops_level), ("botocore", logging.DEBUG if verbosity >= 2 else logging.WARNING)):
        configured = logging.getLogger(name)
        configured.handlers[:] = [handler]
        configured.setLevel(level)
        configured.propagate = False

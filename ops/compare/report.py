"""What a comparison produced, as data (the `--json` output and the `--report` file) and as text. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ops.compare.engine import RequestResult
from ops.compare.summary import RouteSummary
from ops.compare.transport import Outcome
from ops.render import format_table

SHOWN_IN_TEXT = 10


def result_data(result: RequestResult) -> dict[str, Any]:
    """One request that was not identical: the request, both sides' answers and every difference."""
    return {"index": result.request.index, "route": result.request.route.key, "verdict": result.verdict,
            "request": result.request.describe(), "legacy": _outcome_data(result.legacy),
            "scorer": _outcome_data(result.scorer), "differences": [d.as_dict() for d in result.differences]}


def _outcome_data(outcome: Outcome) -> dict[str, Any]:
    reply = outcome.reply
    answer = {"status": None, "headers": None, "body": None} if reply is None else {
        "status": reply.status, "headers": dict(reply.headers), "body": reply.body}
    return {"latency_ms": round(outcome.latency_ms, 1), "error": outcome.error, **answer}


def comparison_data(results: Sequence[RequestResult], summary: Sequence[RouteSummary],
                    context: Mapping[str, Any]) -> dict[str, Any]:
    """The whole comparison: where it ran (`context`), the summary, and every request that was not identical."""
    return {**context, "identical": all(r.verdict == "identical" for r in results), "requests": len(results),
            "summary": [row.as_dict() for row in summary],
            "differences": [result_data(r) for r in results if r.verdict == "different"],
            "errors": [result_data(r) for r in results if r.verdict == "error"]}


def comparison_text(data: Mapping[str, Any]) -> str:
    """Summary table, then the first differences and errors, each with its route, request and readable diff."""
    rows = [(s["route"], s["requests"], s["identical"], s["different"], s["legacy_errors"], s["scorer_errors"],
             _ms(s["legacy_p50_ms"]), _ms(s["legacy_p95_ms"]), _ms(s["scorer_p50_ms"]), _ms(s["scorer_p95_ms"]))
            for s in data["summary"]]
    parts = [f"stack {data['stack']}: {data['requests']} requests to legacy and scorer via {data['via']}", "",
             format_table(("ROUTE", "REQUESTS", "IDENTICAL", "DIFFERENT", "LEGACY ERR", "SCORER ERR", "LEGACY p50",
                           "LEGACY p95", "SCORER p50", "SCORER p95"), rows)]
    shown = [*data["differences"], *data["errors"]][:SHOWN_IN_TEXT]
    for item in shown:
        parts += ["", request_heading(item)]
        for side in ("legacy", "scorer"):
            if item[side]["error"]:
                parts.append(f"  {side} error: {item[side]['error']}")
        parts += [f"  {d['text']}" for d in item["differences"]]
    hidden = len(data["differences"]) + len(data["errors"]) - len(shown)
    if hidden > 0:
        parts += ["", f"… and {hidden} more; every one is in the report (--report FILE)"]
    if data.get("report"):
        parts += ["", f"report: {data['report']}"]
    verdict = ("IDENTICAL: every request got the same answer from both sides" if data["identical"] else
               f"NOT IDENTICAL: {len(data['differences'])} request(s) differ, {len(data['errors'])} failed on a side")
    return "\n".join([*parts, "", verdict])


def request_heading(item: Mapping[str, Any]) -> str:
    """`#3 E1 GET /v2/stamps/7/score/0xaa… (different)`."""
    request = item["request"]
    query = "&".join(f"{k}={v}" for k, v in request["query"].items())
    return (f"#{item['index']} {item['route']} {request['method']} {request['path']}{'?' + query if query else ''} "
            f"({item['verdict']})")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"

"""Readable text tables for the operations commands (style guide §2.15). Renders the same dicts `--json` prints."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from components.routing import SCORER_TARGET_GROUPS, header_text


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Left-aligned columns separated by two spaces; `None` shows as "-"."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells)


def weights_text(weights: Sequence[int | None] | None) -> str:
    return "-" if weights is None else "[" + ", ".join("?" if w is None else str(w) for w in weights) + "]"


def percent_text(ratio: float | None) -> str:
    return "-" if ratio is None else f"{ratio * 100:.2f}%"


def seconds_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def count_text(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def command_line(command: str, comment: str = "") -> str:
    """One suggested command, comments aligned."""
    return f"{command:<44} # {comment}" if comment else command


def plan_text(data: Mapping[str, Any]) -> str:
    """`plan`: the routing table at the chosen percentage, the invariants and the changes from the config's `p`."""
    header = f"stack {data['stack']}: scorerPercent {data['config_percent']} in {data['stack_file']}"
    if data["percent"] != data["config_percent"]:
        header += f"; showing scorerPercent {data['percent']}"
    by_route = data.get("percent_by_route") or {}
    if by_route:  # P11.3: these routes keep their own percentage whatever scorerPercent says
        header += "; own percentage (scorerPercentByRoute): " + ", ".join(f"{k} {v}" for k, v in by_route.items())
    rows = []
    for e in data["routing_table"]:
        weights = [t["weight"] for t in e["targets"]]
        weighted = e["stickiness"] is not None
        sticky = "-" if not weighted else (f"on ({e['stickiness']['duration']}s)" if e["stickiness"]["enabled"]
                                           else "off")
        first = e["targets"][0]["target_group"]
        if weighted:
            sides = (first, weights[0], e["targets"][1]["target_group"], weights[1])
        elif first in SCORER_TARGET_GROUPS.values():  # an override rule to the scorer
            sides = ("-", "-", first, "all")
        else:
            sides = (first, "all", "-", "-")
        rows.append((e["alb"], e["priority"], e["key"], ",".join(e["methods"]) or "any", e["path"],
                     ",".join(e["hosts"]) or "any", header_text(e.get("header")), *sides, sticky))
    parts = [header, "", format_table(("LISTENER", "PRIO", "ROUTE", "METHODS", "PATH", "HOSTS", "HEADER", "LEGACY TG",
                                       "LEGACY", "SCORER TG", "SCORER", "STICKY"), rows), ""]
    parts.append(format_table(("INVARIANT", "RESULT", "DETAIL"),
                              [(i["name"], "ok" if i["ok"] else "FAIL", i["detail"]) for i in data["invariants"]]))
    if data["percent"] != data["config_percent"]:
        parts += ["", f"change scorerPercent {data['config_percent']} → {data['percent']}: "
                      f"{len(data['changes'])} weighted rules change in place"]
        if data["changes"]:
            parts.append(format_table(
                ("LISTENER", "PRIO", "ROUTE", "WEIGHTS", "STICKY"),
                [(c["alb"], c["priority"], c["key"], f"{weights_text(c['weights_before'])} → "
                  f"{weights_text(c['weights_after'])}", f"{c['stickiness_before']} → {c['stickiness_after']}")
                 for c in data["changes"]]))
        parts.append(f"apply with: python -m ops set --stack {data['stack']} {data['percent']}")
    return "\n".join(parts)


def status_text(data: Mapping[str, Any]) -> str:
    """`status`: per shared endpoint, the live and expected weights and stickiness, and the drift."""
    by_route = data.get("percent_by_route") or {}
    rows = [(r["alb"], r["priority"], r["key"], weights_text(r["live"]["weights"] if r["live"] else None),
             r["live"]["stickiness"] if r["live"] else "-", weights_text(r["expected"]["weights"]),
             r["expected"]["stickiness"], f"{r['percent']}" + (" (route)" if r["key"] in by_route else ""),
             "ok" if not r["drift"] else "DRIFT: " + "; ".join(r["drift"]))
            for r in data["rules"]]
    drifted = sum(1 for r in data["rules"] if r["drift"])
    target = f"scorerPercent {data['percent']}" + (
        "".join(f", {k} {v}" for k, v in by_route.items()) if by_route else "")
    summary = (f"no drift: all {len(data['rules'])} shared rules match {target}" if not drifted
               else f"DRIFT on {drifted} of {len(data['rules'])} shared rules (expected {target}); "
                    f"`pulumi up --stack {data['stack']}` restores the config's split")
    if data.get("rolled_back"):
        summary = (f"rolled back (automatic rollback?): every shared rule is live at [100, 0] without stickiness while "
                   f"{data['stack_file']} expects {target}. Reconcile the stack file: `python -m ops rollback --stack "
                   f"{data['stack']}`, then commit {data['stack_file']}; do not `pulumi up` before that (it would send "
                   "traffic back to the scorer)")
    return "\n".join([
        f"stack {data['stack']} ({data['region']}): live rules vs scorerPercent {data['percent']} in "
        f"{data['stack_file']}", "",
        format_table(("LISTENER", "PRIO", "ROUTE", "LIVE [legacy, scorer]", "LIVE STICKY", "EXPECTED", "EXP STICKY",
                      "EXP %", "STATE"), rows), "", summary, "", override_status_text(data)])


def override_status_text(data: Mapping[str, Any]) -> str:
    """`status`: the override header rules (production contract P11.1), live target against the plan's."""
    overrides = data.get("overrides") or []
    if data.get("override_header") is None:
        return "override header rules: disabled (scorerOverrideHeader: false)"
    rows = [(o["alb"], o["priority"], o["key"], o["header"], ",".join(o["live"]["targets"]) if o["live"] else "-",
             o["expected_target"], "ok" if not o["drift"] else "DRIFT: " + "; ".join(o["drift"])) for o in overrides]
    drifted = sum(1 for o in overrides if o["drift"])
    summary = (f"no drift: all {len(overrides)} override rules match" if not drifted
               else f"DRIFT on {drifted} of {len(overrides)} override rules; `pulumi up --stack {data['stack']}` "
                    "restores them")
    return "\n".join([format_table(("LISTENER", "PRIO", "OVERRIDE RULE", "HEADER", "LIVE TARGET", "EXPECTED",
                                    "STATE"), rows), "", summary])


def health_text(data: Mapping[str, Any]) -> str:
    """`health`: per ALB, legacy and scorer target groups side by side, then the checks and the verdict."""
    window = data["window"]
    parts = [f"stack {data['stack']} ({data['region']}): scorerPercent {data['percent']}, window {window['since']} "
             f"({window['start']} → {window['end']})"]
    for alb in data["albs"]:
        rows = [("legacy", entry["target_group"], entry["route"], *_metric_cells(entry["metrics"]))
                for entry in alb["legacy"]]
        rows.append(("legacy", f"({len(alb['legacy'])} target groups)", "combined",
                     *_metric_cells(alb["legacy_combined"])))
        rows.append(("scorer", alb["scorer_target_group"], "all shared", *_metric_cells(alb["scorer"])))
        checks = [(c["name"], _value_text(c["value"], c["unit"]),
                   "-" if c["limit"] is None else ("≥ " if c["unit"] == "count" else "≤ ") +
                   _value_text(c["limit"], c["unit"]), c["outcome"], c["note"]) for c in alb["checks"]]
        parts += ["", f"{alb['alb']} ALB ({alb['load_balancer']})",
                  format_table(("SIDE", "TARGET GROUP", "ROUTE", "REQUESTS", "5XX", "4XX", "LAMBDA ERR", "AVG s",
                                "P99 s"), rows), "",
                  format_table(("CHECK", "SCORER", "LIMIT", "RESULT", "NOTE"), checks),
                  f"{alb['alb']}: {alb['verdict']}"]
    emf = data.get("scorer_metrics")
    if emf:
        parts += ["", f"scorer metrics ({emf['namespace']}, all routes; for information, not part of the verdict): "
                      f"credential validation {percent_text(emf['validation_rate'])} "
                      f"({count_text(emf['stamps_valid'])} valid of {count_text(emf['stamps_checked'])} checked), "
                      f"dedup clashes {count_text(emf['dedup_clashes'])}, DB time avg {_ms_text(emf['db_time_avg_ms'])}"
                      f" p99 {_ms_text(emf['db_time_p99_ms'])}"]
    parts += ["", f"verdict: {data['verdict']} (exit {data['exit_code']}); {data['granularity']}"]
    for alb, percents in data.get("mixed_percentages", {}).items():
        parts.append(f"note: the {alb} ALB's routes run at different percentages {percents} "
                     "(scorerPercentByRoute), so the scorer's mix of routes differs from legacy's combined mix")
    return "\n".join(parts)


def _ms_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _metric_cells(m: Mapping[str, Any]) -> tuple[str, ...]:
    return (count_text(m["requests"]), percent_text(m["ratio_5xx"]), percent_text(m["ratio_4xx"]),
            percent_text(m["ratio_lambda_errors"]), seconds_text(m["avg_latency"]), seconds_text(m["p99_latency"]))


def _value_text(value: float | None, unit: str) -> str:
    if unit == "ratio":
        return percent_text(value)
    if unit == "seconds":
        return seconds_text(value)
    return count_text(value)


def percent_change_text(data: Mapping[str, Any]) -> str:
    """`set` / `rollback`: the stack file change and the Pulumi commands to run."""
    file = data["stack_file_change"]
    before = "absent (default)" if file["before"] is None else file["before"]
    key = file.get("key", "scorerPercent")
    if file["written"]:
        line = f"{file['path']}: {key} {before} → {file['after']}"
    else:
        line = f"{file['path']}: {key} already {file['after']}, file unchanged"
    parts = [line]
    parts += [f"{file['path']}: {c['key']} {c['before']} → {c['after']}" for c in data.get("route_changes", ())]
    if data.get("routes_with_own_percent"):
        parts.append("routes keeping their own percentage (scorerPercentByRoute; `set --route KEY N` changes one): "
                     + ", ".join(f"{k} {v}" for k, v in data["routes_with_own_percent"].items()))
    if file["weights_before"] is not None and file["written"] and data.get("live") is None:
        parts.append(f"weighted rules after `pulumi up`: weights {weights_text(file['weights_before'])} → "
                     f"{weights_text(file['weights_after'])}, stickiness {file['stickiness_before']} → "
                     f"{file['stickiness_after']}")
    if data.get("live") is not None:
        parts += ["", f"live rules ({data['live']['region']}):", live_changes_text(data["live"])]
    parts += ["", "next:"] + [f"  {command}" for command in data["next"]]
    return "\n".join(parts)


def live_changes_text(live: Mapping[str, Any]) -> str:
    """`rollback --now`: every shared rule, before → after, and what was done to it."""
    rows = [(c["alb"], c["priority"], c["key"],
             f"{weights_text(c['before']['weights'])} {c['before']['stickiness']}",
             f"{weights_text(c['after']['weights'])} {c['after']['stickiness']}", c["action"])
            for c in live["rules"]]
    changed = sum(1 for c in live["rules"] if c["action"] == "modified")
    summary = (f"{changed} rule(s) modified with ModifyRule, {len(live['rules']) - changed} already at [100, 0] "
               "with stickiness off" if changed else "nothing to change: every shared rule is already at [100, 0] "
                                                     "with stickiness off")
    return "\n".join([format_table(("LISTENER", "PRIO", "ROUTE", "BEFORE", "AFTER", "ACTION"), rows), summary])


def preflight_text(data: Mapping[str, Any]) -> str:
    """`preflight`: per planned rule, its status against the live listeners, what to do, and the ids to import."""
    rows = []
    for r in data["rules"]:
        live = [r["live"]["summary"]] if r["live"] else []
        live += [("shadowed by " if s["certain"] else "may be shadowed by ") + s["summary"] for s in r["shadowed_by"]]
        rows.append((r["alb"], r["priority"], r["key"], r["status"].upper(), " | ".join(live) or "-", r["todo"]))
    counts = data["counts"]
    live_counts = ", ".join(f"{alb} {n}" for alb, n in data["live_rule_counts"].items())
    parts = [f"stack {data['stack']} ({data['region']}): {len(data['rules'])} planned rules vs the live listeners "
             f"({live_counts} rules)", "",
             format_table(("LISTENER", "PRIO", "ROUTE", "STATUS", "LIVE RULE", "TO DO"), rows)]
    if data["imports"]:
        parts += ["", f"to import (routing contract §6.4 Option A; type {data['imports'][0]['type']}):",
                  format_table(("NAME", "PARENT", "ID (rule ARN)"),
                               [(i["name"], i["parent"], i["id"]) for i in data["imports"]])]
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)
    verdict = ("ready for the first `pulumi up`" + (" once the rules above are imported or removed"
                                                    if data["imports"] else "") if data["ok"]
               else "NOT ready: resolve every CONFLICT / SHADOWED / MAY-SHADOW rule first")
    parts += ["", f"{summary}: {verdict}"]
    return "\n".join(parts)

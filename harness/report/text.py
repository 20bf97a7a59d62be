"""The words and figures of a run and of a comparison, shared by every report format."""

from __future__ import annotations

from harness.compare import Row, is_refused
from harness.errors import one_line


def seconds(value: float | None, unit: str = "s", digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}{unit}"


WARMUP_HEALTHY = 0.99  # below this share of good warmup requests, the figures say more about load than upgrade


def summary_rows(report: dict) -> list[tuple[str, str]]:
    """Key figures of one run as (label, text) rows: shared by the terminal, Markdown and HTML."""
    load, strategy = report["load"], report["scenario"]["strategy"]["kind"]
    upgrade, rollback, writes = report["upgrade"], report["rollback"], report["writes"]
    availability, latency, versions = report["availability"], report["latency"], report["versions"]
    detail = f"engine: {upgrade['engine_state']}" if strategy == "in-service" else (
        f"green ready after {seconds(upgrade['time_to_ready'])}, switch took {seconds(upgrade['time_to_switch'])}")
    app = report.get("app")
    rows = [("app", f"{app['name']}: {app['old']} -> {app['new']}"
                    + (f" (revision {app['revision']})" if app.get("revision") else ""))] if app else []
    rows += engine_rows(report)
    warmup = (report["phases"].get("warmup") or {}).get("availability")
    if warmup is not None and warmup < WARMUP_HEALTHY:
        rows.append(("before the upgrade", f"only {warmup * 100:.1f}% of warmup requests succeeded: the stack was "
                                           "not healthy under this load before anything changed"))
    rows += [
        ("load", f"{load['samples']} requests at {load.get('rate')}/s, timeout {load.get('timeout')}s, "
                 f"{load['failed']} failed" + (f" ({counted(load['errors'])})" if load["errors"] else "")),
        *steadiness_rows(load),
        ("availability", "-" if availability is None else f"{availability * 100:.3f}%"),
        ("downtime", f"{seconds(report['downtime'])} in {len(report['outages'])} outage(s), "
                     f"longest {seconds(report['longest_outage'])}"),
        ("latency", f"p50 {seconds(latency['p50'])}  p95 {seconds(latency['p95'])}  p99 {seconds(latency['p99'])}  "
                    f"max {seconds(latency['max'])}"),
        ("versions", f"{counted(versions['counts']) or '-'}, mixed window {seconds(versions['mixed_window'])}"),
        *propagation_rows(report),
        ("upgrade", f"{upgrade['outcome']} after {seconds(upgrade['duration'])} ({detail})"
                    + (f": {upgrade['message']}" if upgrade["message"] else "")),
        ("rollback", "not triggered" if not rollback["triggered"] else (
            ("succeeded" if rollback["success"] else "FAILED: " + "; ".join(rollback["reasons"]))
            + f", time to rollback {seconds(rollback['time_to_rollback'])}"
            + "".join(f"; unverified: {what}" for what in rollback.get("unverified") or []))),
        ("writes", writes_text(writes)),
        *reads_during_rows(writes),
    ]
    rows += [(f"fault {f['kind']}", f"on {f['target']}, {_engine_saw(f)}, healed: {f['heal_ok']}"
                                    + (f"; engine said: {f['engine_said']}" if f.get("engine_said") else ""))
             for f in report["faults"]]
    return rows


def _engine_saw(fault: dict) -> str:
    """The engine's first sign of a fault, or that it showed none while the fault held."""
    if fault["engine_effect"] is None:
        return "the engine showed no sign of it"
    return f"engine saw {fault['engine_effect']} after {seconds(fault['time_to_effect'])}"


def propagation_rows(report: dict) -> list[tuple[str, str]]:
    """How a switch reached the clients, as one row (none without a switch, or in a report from before)."""
    found = report.get("propagation")
    if not found:
        return []
    versions = report["versions"]
    old, new = versions["old"], versions["new"]
    rows = [("propagation", f"from the switch's request: first {new} answer after {seconds(found['first_new'])}, "
                            f"last {old} answer after {seconds(found['last_old'])} ({found['old_answers']} {old} "
                            f"answers after the request), {found['failed']} failed in the window of "
                            f"{seconds(found['window'])}")]
    nodes = found.get("nodes") or {}
    if nodes:
        each = ", ".join(f"{node} {seconds(n['first_new'])} / {seconds(n['last_old'])}" for node, n in nodes.items())
        kept = found.get("kept_alive") or {}
        rows.append(("propagation per node",
                     f"new connections after the switch's request, first to {new} / last to {old}: {each}; "
                     f"answers on connections opened before it: {counted(kept) or 'none'}"))
    return rows


def engine_rows(report: dict) -> list[tuple[str, str]]:
    """The engine the run deployed on and what the harness changed in the app for it (reports from before: none)."""
    cluster, app = report.get("cluster") or {}, report.get("app") or {}
    if not cluster.get("engine"):
        return []
    form = app.get("form", "compose")
    deployed = {("swarm", "compose"): "the compose file as a Swarm stack",
                ("kubernetes", "compose"): "the compose file translated to Kubernetes objects",
                ("kubernetes", "kubernetes"): "the app's Kubernetes objects"}.get((cluster["engine"], form), form)
    changes = app.get("changes") or []
    return [("engine", f"{cluster.get('engine_version') or cluster['engine']}: {deployed}"
                       + (f"; the harness changed: {'; '.join(changes)}" if changes else ""))]


def counted(counts: dict) -> str:
    """``{'timeout': 43, 'status 503': 2}`` as ``timeout 43, status 503 2``."""
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def writes_text(writes: dict) -> str:
    """Acknowledged writes and what the read-back said of them."""
    if writes.get("measured") is False:
        return "not measured (the app profile has no write probe)"
    if writes["lost"] is None:
        return f"{writes['acknowledged']} acknowledged, lost unknown ({writes.get('error')})"
    said = ", ".join(f"{writes[k]} {k}" for k in ("present", "absent", "unverifiable") if k in writes)
    extra = f"; {writes['not_captured']} more acknowledged by status with nothing captured" \
        if writes.get("not_captured") else ""
    return f"{writes['acknowledged']} acknowledged: {said or str(writes['lost']) + ' lost'}{extra}"


def reads_during_rows(writes: dict) -> list[tuple[str, str]]:
    """Reads of acknowledged writes during the run, as one row (none without them)."""
    during = writes.get("during_run") or {}
    if not during.get("reads"):
        return []
    windows = during["missing_windows"]
    longest = max((w["end"] - w["start"] for w in windows), default=0.0)
    phases = ", ".join(f"{name} {p['missing']} of {p['reads']}" for name, p in during["by_phase"].items() if p["reads"])
    return [("reads during the run", f"{during['reads']} reads of acknowledged writes, "
                                     f"{during['absent'] + during['unverifiable']} missing in {len(windows)} window(s), "
                                     f"longest {seconds(longest)} (missing per phase: {phases})")]


def lost_lines(writes: dict, limit: int = 20) -> list[str]:
    """The ids of lost and unverifiable writes, at most ``limit`` of each."""
    lines = []
    for key, label in (("lost_ids", "lost"), ("unverifiable_ids", "unverifiable")):
        ids = writes.get(key) or []
        if ids:
            more = f" and {writes['lost' if key == 'lost_ids' else 'unverifiable'] - limit} more" \
                if len(ids) > limit else ""
            lines.append(f"{label}: {', '.join(ids[:limit])}{more} (readback.jsonl has each answer)")
    return lines


def steadiness_rows(load: dict) -> list[tuple[str, str]]:
    """How steadily the load was sent, as one row (none in a report from before it was measured)."""
    figures = load.get("steadiness")
    if not figures or figures["achieved"] is None:
        return []
    cv, lag = figures["cv"], figures["lag_p99"]
    text = (f"{figures['achieved']:.1f}/s sent of {figures['rate']:g}/s asked, per-second CV "
            f"{'-' if cv is None else format(cv, '.1%')}, schedule lag p99 "
            f"{'-' if lag is None else format(lag * 1000, '.0f') + 'ms'}")
    if figures["steady"] is False:
        text = f"NOT STEADY: this machine did not hold the rate, so outages are seen coarser; {text}"
    return [("load steadiness", text)]


def cost_rows(report: dict) -> list[tuple[str, str]]:
    """The harness's own time as one (label, text) row, for the terminal and Markdown; none in a report from
    before the timings."""
    timings = report.get("timings")
    if not timings:
        return []
    steps = ", ".join(f"{name.replace('_', '-')} {seconds(value, digits=1)}" for name, value in timings.items()
                      if name not in ("phases", "wall", "overhead"))
    phases = ", ".join(f"{name} {seconds(value, digits=1)}" for name, value in timings["phases"].items())
    return [("harness cost", f"overhead {seconds(timings['overhead'], digits=1)} of "
                             f"{seconds(timings['wall'], digits=1)} wall: {steps}; phases: {phases or 'none'}")]


def title(report: dict) -> str:
    return f"{report['scenario']['name']} under {report['scenario']['strategy']['kind']}"


def result(report: dict) -> str:
    """``PASSED``, ``REFUSED`` (nothing was measured: the reason is ``refusal``), or ``FAILED`` with why: an
    expectation the run measured, or the run's own status (``failed``, ``interrupted``)."""
    if report["passed"]:
        return "PASSED"
    if is_refused(report):
        return "REFUSED"
    return "FAILED (an expectation not met)" if report["status"] == "completed" else f"FAILED (run {report['status']})"


def refusal(report: dict) -> str:
    """Why a refused run was refused (the error that ended it, as the harness printed it)."""
    return report.get("error") or "the reason is in journal.jsonl (run.error)"


COMPARISON_COLUMNS = ("scenario", "strategy", "engine", "runs", "result", "downtime", "longest outage", "error rate", "p99",
                      "mixed-version window", "switch propagation", "upgrade outcomes", "rollback ok", "time to rollback",
                      "writes acknowledged", "lost writes", "overhead", "machine/cluster")


def comparison_title(rows: list[Row]) -> str:
    """``in-service vs blue-green``, and ``on kubernetes and swarm`` when the rows are of more than one engine."""
    engines = dict.fromkeys(row.engine for row in rows)
    strategies = " vs ".join(dict.fromkeys(row.strategy for row in rows)) or "comparison"
    return strategies + (f" on {' and '.join(engines)}" if len(engines) > 1 else "")


def comparison_cells(row: Row) -> list[str]:
    """One comparison row as text, shared by the terminal table, Markdown and HTML."""
    rollback = "-" if not row.rollbacks_triggered else f"{row.rollbacks_succeeded}/{row.rollbacks_triggered}"
    outcomes = ", ".join(f"{outcome} {count}" for outcome, count in sorted(row.outcomes.items()))
    return [row.scenario, row.strategy, row.engine, str(row.runs), result_text(row.passed, row.runs), row.downtime.text("s"),
            row.longest_outage.text("s"), row.error_rate.text("%", scale=100), row.p99.text("s"),
            row.mixed_window.text("s"), row.propagation_window.text("s"), outcomes, rollback, row.time_to_rollback.text("s"),
            row.writes_acknowledged.text(""), row.lost_writes.text(""), row.overhead.text("s", digits=1),
            places_text(row.places)]


def places_text(places: dict[str, int]) -> str:
    """Where a row's runs ran: ``ci-1/chaos``, or ``runner-a/chaos ×2, runner-b/chaos`` when in several places."""
    if len(places) == 1:
        return next(iter(places))
    return ", ".join(f"{place} ×{count}" if count > 1 else place for place, count in places.items())


def result_text(passed: int, runs: int) -> str:
    """``passed``, ``FAILED``, or ``1 of 3 FAILED`` when the repeats disagree."""
    return "passed" if passed == runs else "FAILED" if not passed else f"{runs - passed} of {runs} FAILED"


def run_line(report: dict) -> str:
    """A finished run in one line: result, downtime, upgrade outcome, rollback verdict, writes (a refused run:
    why)."""
    if is_refused(report):
        return f"REFUSED before it started: {one_line(refusal(report), 400)}"
    rollback, writes = report["rollback"], report["writes"]
    verdict = "not triggered" if not rollback["triggered"] else (
        f"succeeded, time to rollback {seconds(rollback['time_to_rollback'])}" if rollback["success"] else "FAILED")
    written = "not measured" if writes.get("measured") is False else (
        f"{writes.get('acknowledged', '?')} acknowledged, {'?' if writes.get('lost') is None else writes['lost']} lost")
    return (f"{'PASSED' if report['passed'] else 'FAILED'}: downtime {seconds(report['downtime'])} "
            f"(longest outage {seconds(report['longest_outage'])}), upgrade {report['upgrade']['outcome']}, "
            f"rollback {verdict}, writes {written}")

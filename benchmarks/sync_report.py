"""The activation benchmark's figures: medians over runs, what the limits allow, the
markdown table README.md quotes and the RESULT line (its first names are public
contracts: mailchimp_limit_share, hubspot_limit_share, salesforce_limit_share,
salesforce_bulk_speedup, delta_write_ratio, noop_writes, lost, fault_slowdown).
"""

import argparse
import math
import statistics
from typing import Any

from benchmarks.fake_runner import BATCH, VENDORS
from benchmarks.sync_rig import Phases, allowance
from tests.fakes.hubspot.server import TIERS

TEN_S_CALLS = TIERS["professional"][0]  # HubSpot's burst limit: calls per rolling 10 s


def _median(results: list[dict[str, Any]], pick: Any) -> float:
    return statistics.median(pick(r) for r in results)


def summary(results: dict[str, Any], members: int, clean_key: str = "clean",
            faulty_key: str = "faulty") -> dict[str, Any]:
    clean, faulty = results[clean_key], results[faulty_key]
    clean_s = _median(clean, lambda r: r["wall"])
    faulty_s = _median(faulty, lambda r: r["wall"])
    return {
        "n": len(clean), "clean_s": clean_s, "rate": members / clean_s, "faulty_s": faulty_s,
        "slowdown": faulty_s / clean_s, "lost": sum(r["lost"] for r in faulty),
        "pending": max(r["pending"] for r in faulty),
        "runs": max(len(r["runs"]) for r in faulty),
        "plan_s": _median(clean, lambda r: Phases.plan(r["phases"])),
        "save_s": _median(clean, lambda r: r["phases"].get("_save_pushes", 0.0)),
        "cpu": [_median(clean, lambda r, i=i: r["cpu"][i]) for i in range(3)],
        "calls": _median(clean, lambda r: r["fake"]["calls"]),
        "retries": _median(faulty, lambda r: r["run"].retries),
    }


def _rows_common(name: str, s: dict[str, Any], members: int, limit: Any,
                 service_time: float) -> list[tuple[str, str, str]]:
    return [
        (f"{name}: initial sync, {members:,} members, {service_time * 1000:.0f} ms a call "
         f"(median of {s['n']})", f"{s['clean_s']:.2f} s, {s['rate']:,.0f} members/s",
         f"**{s['rate'] / limit.rate:.3f}** of the {limit.rate:,.0f}/s the limits allow "
         f"({limit.how}); goal >= 0.90"),
        ("  planning / state writes in the main thread; calls the fake saw",
         f"{s['plan_s']:.2f} s / {s['save_s']:.2f} s; {s['calls']:,.0f} calls",
         f"ideal total {members / limit.rate:.2f} s"),
        ("  CPU during the initial sync (2 cores)",
         f"engine {s['cpu'][0]:.1f} s, fake {s['cpu'][1]:.1f} s, PostgreSQL "
         f"{s['cpu'][2]:.1f} s", ""),
    ]


def _row_faults(name: str, s: dict[str, Any], fail_rate: float) -> tuple[str, str, str]:
    return (f"{name}: initial sync with {fail_rate:.0%} of calls 5xx (median of {s['n']})",
            f"{s['faulty_s']:.2f} s, {s['retries']:.0f} retries; at most {s['pending']} "
            f"pending after run 1; **{s['lost']} lost** after {s['runs']} run(s)",
            f"slowdown {s['slowdown']:.2f}x; lost goal 0")


def _mailchimp_rows(args: argparse.Namespace, members: int, m: dict[str, Any]) -> tuple:
    s, limit = summary(m, members), allowance("mailchimp", args.service_time)
    ceiling_share = members / m["ceiling_s"] / limit.rate
    minimum = math.ceil(m["changed"] / BATCH)
    noop_writes = m["noop"]["fake"]["write_calls"]
    delta_ratio = m["delta"]["fake"]["write_calls"] / minimum
    rows = _rows_common("Mailchimp", s, members, limit, args.service_time) + [
        ("  same fake, bare client (rig ceiling)",
         f"{m['ceiling_s']:.2f} s, {members / m['ceiling_s']:,.0f} members/s",
         f"{ceiling_share:.3f} of the limits; engine at "
         f"{s['rate'] * m['ceiling_s'] / members:.2f} of it"),
        ("Mailchimp: second run, nothing changed",
         f"{noop_writes} write calls ({m['noop']['wall']:.2f} s)", "goal 0"),
        (f"Mailchimp: delta, {m['changed']:,} first names changed",
         f"{m['delta']['fake']['write_calls']} write calls for a minimum of {minimum} "
         f"({m['delta']['wall']:.2f} s; {m['wrong']} wrong at the fake)",
         f"{delta_ratio:.2f} of the minimum (goal 1.0)"),
        _row_faults("Mailchimp", s, args.fail_rate),
    ]
    result = dict(
        mailchimp_limit_share=f"{s['rate'] / limit.rate:.3f}",
        delta_write_ratio=f"{delta_ratio:.2f}", noop_writes=str(noop_writes),
        fault_slowdown=f"{s['slowdown']:.2f}", members_per_s=f"{s['rate']:.0f}",
        fake_ceiling_share=f"{ceiling_share:.3f}", initial_s=f"{s['clean_s']:.2f}",
        plan_s=f"{s['plan_s']:.2f}", save_s=f"{s['save_s']:.2f}",
        engine_cpu_s=f"{s['cpu'][0]:.1f}", fake_cpu_s=f"{s['cpu'][1]:.1f}",
        pg_cpu_s=f"{s['cpu'][2]:.1f}", pending_after_first=str(s["pending"]),
        mailchimp_lost=str(s["lost"]))
    return rows, result, s["lost"]


def _hubspot_rows(args: argparse.Namespace, members: int, h: dict[str, Any]) -> tuple:
    s, limit = summary(h, members), allowance("hubspot", args.service_time)
    routes = h["clean"][0]["fake"]["by_route"]
    upserts = sum(c for r, c in routes.items() if r.endswith("/batch/upsert"))
    adds = sum(c for r, c in routes.items() if r.endswith("/memberships/add"))
    span = _median(h["clean"], lambda r: r["fake"]["batch_span"])
    per_s = TEN_S_CALLS / 10
    rows = _rows_common("HubSpot", s, members, limit, args.service_time) + [
        ("  calls: batch/upsert / memberships/add / other; first to last member call",
         f"{upserts} / {adds} / {sum(routes.values()) - upserts - adds}; {span:.2f} s, "
         f"{(upserts + adds) / span:.1f} calls/s",
         f"{(upserts + adds) / span / per_s:.3f} of the {per_s:.0f} calls/s allowed; the "
         f"run's {s['calls'] / s['clean_s']:.1f} calls/s include the plan"),
        _row_faults("HubSpot", s, args.fail_rate),
    ]
    result = dict(hubspot_limit_share=f"{s['rate'] / limit.rate:.3f}",
                  hubspot_members_per_s=f"{s['rate']:.0f}",
                  hubspot_fault_slowdown=f"{s['slowdown']:.2f}", hubspot_lost=str(s["lost"]))
    return rows, result, s["lost"]


def _salesforce_rows(args: argparse.Namespace, members: int, f: dict[str, Any]) -> tuple:
    s, limit = summary(f, members), allowance("salesforce", args.service_time)
    b = summary(f, members, "bulk", "bulk_faulty")
    ceiling_share = members / f["ceiling_s"] / limit.rate
    speedup = s["clean_s"] / b["clean_s"]
    job_s = 2 * members * args.bulk_record_ms / 1000
    rows = _rows_common("Salesforce Collections", s, members, limit, args.service_time) + [
        ("  same fake, bare client, 25 connections (rig ceiling)",
         f"{f['ceiling_s']:.2f} s, {members / f['ceiling_s']:,.0f} members/s",
         f"{ceiling_share:.3f} of the limits; engine at "
         f"{s['rate'] * f['ceiling_s'] / members:.2f} of it"),
        (f"Salesforce Bulk API 2.0: initial sync, {args.bulk_record_ms} ms a record a job "
         f"(median of {b['n']})",
         f"{b['clean_s']:.2f} s, {b['rate']:,.0f} members/s; {b['calls']:,.0f} calls "
         f"(Collections: {s['calls']:,.0f})",
         f"**{speedup:.2f}x** the Collections speed; the 2 jobs alone take {job_s:.1f} s, "
         f"{_break_even(s['clean_s'], b['clean_s'] - job_s, members)}"),
        ("  Bulk: planning / state writes; CPU engine / fake / PostgreSQL",
         f"{b['plan_s']:.2f} s / {b['save_s']:.2f} s; {b['cpu'][0]:.1f} / {b['cpu'][1]:.1f} "
         f"/ {b['cpu'][2]:.1f} s", ""),
        _row_faults("Salesforce Collections", s, args.fail_rate),
        _row_faults("Salesforce Bulk API", b, args.fail_rate),
    ]
    result = dict(salesforce_limit_share=f"{s['rate'] / limit.rate:.3f}",
                  salesforce_bulk_speedup=f"{speedup:.2f}",
                  salesforce_members_per_s=f"{s['rate']:.0f}",
                  salesforce_bulk_members_per_s=f"{b['rate']:.0f}",
                  salesforce_ceiling_share=f"{ceiling_share:.3f}",
                  salesforce_fault_slowdown=f"{s['slowdown']:.2f}",
                  salesforce_bulk_fault_slowdown=f"{b['slowdown']:.2f}",
                  salesforce_lost=str(s["lost"] + b["lost"]))
    return rows, result, s["lost"] + b["lost"]


def _break_even(collections_s: float, bulk_rest_s: float, members: int) -> str:
    """The job time a record below which Bulk would beat Collections, all else equal."""
    if bulk_rest_s >= collections_s:
        return "the rest of the Bulk run (plan, polls, results, state) already takes longer"
    ms = (collections_s - bulk_rest_s) / (2 * members) * 1000
    return f"so Bulk would win below {ms:.2f} ms a record"


ROWS = {"mailchimp": _mailchimp_rows, "hubspot": _hubspot_rows,
        "salesforce": _salesforce_rows}
# The contract's figures first, in this order; the others follow as context.
HEAD = ("mailchimp_limit_share", "hubspot_limit_share", "salesforce_limit_share",
        "salesforce_bulk_speedup", "delta_write_ratio", "noop_writes", "lost",
        "fault_slowdown")


def report(args: argparse.Namespace, members: int, measured: dict[str, Any]) -> None:
    table: list[tuple[str, str, str]] = []
    result: dict[str, str] = {}
    lost = 0
    for vendor, results in measured.items():
        rows, figures, vendor_lost = ROWS[vendor](args, members, results)
        table += rows
        result.update(figures)
        lost += vendor_lost
    result["lost"] = str(lost)
    print("| figure | measured | vs goal |\n|---|---|---|")
    for name, figure, ratio in table:
        print(f"| {name} | {figure} | {ratio} |")
    skipped = [v for v in VENDORS if v not in measured]
    if skipped:
        print(f"not measured (--vendors): {', '.join(skipped)}; their RESULT figures are "
              "left out and lost covers the others only")
    ordered = {k: result.pop(k) for k in HEAD if k in result}
    ordered.update(result, members=str(members), service_time_s=str(args.service_time),
                   bulk_record_ms=str(args.bulk_record_ms), vendors=",".join(measured))
    print("RESULT " + " ".join(f"{k}={v}" for k, v in ordered.items()))

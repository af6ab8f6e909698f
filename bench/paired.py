"""Ratios to /live that a shared machine cannot swing: each endpoint's window between two /live windows.

One load window per endpoint, divided by one /live window loaded a minute earlier, measures the machine as much as
the endpoint (on a shared 2-core machine /live against itself 30 s later ranged 0.71-2.92 by req/s). So a round
loads live, X1, live, X2, ..., Xn, live; each X is divided by the mean of the two /live windows on either side of
it (a load that changes steadily cancels out), rounds repeat that (every other round in reverse order), and the
reported ratio is the median over rounds, with its spread. /live's own row shows the same arithmetic applied to
/live: each /live window against the one before it, the control of what one window's noise is.

The second view, by CPU, is /live's server CPU per request over the endpoint's, paired the same way: requests per
CPU-second as a share of /live's, in the same direction as the req/s ratio, and barely moved by other work on the
machine (it competes for the cores, not for what a request costs).

Pure arithmetic here; bench/httpbench.py loads the windows.
"""
from __future__ import annotations

import itertools
import statistics

LIVE = "live"


def interleave(names: list[str], round_index: int) -> list[str]:
    """The window order of one round: /live around every other endpoint; odd rounds take them in reverse."""
    others = [name for name in names if name != LIVE]
    if round_index % 2:
        others.reverse()
    order = [LIVE]
    for name in others:
        order += [name, LIVE]
    return order


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def _mean(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else (a + b) / 2


def pair_round(windows: list[dict]) -> dict[str, dict]:
    """One round's windows (in the order of interleave(), each with name, rps and server_cpu_ms_per_request) ->
    per endpoint: its window plus live_rps, live_cpu_ms_per_request (the means of its two /live neighbours),
    ratio_to_live and cpu_ratio_to_live. /live's entry: its windows, and control_ratios, each /live window's
    req/s over the previous one's (control_cpu_ratios: the previous one's CPU per request over this one's)."""
    paired: dict[str, dict] = {}
    for i in range(1, len(windows) - 1, 2):
        before, window, after = windows[i - 1], windows[i], windows[i + 1]
        live_rps = _mean(before.get("rps"), after.get("rps"))
        live_cpu = _mean(before.get("server_cpu_ms_per_request"), after.get("server_cpu_ms_per_request"))
        paired[window["name"]] = {
            **window, "live_rps": None if live_rps is None else round(live_rps, 1),
            "live_cpu_ms_per_request": None if live_cpu is None else round(live_cpu, 3),
            "ratio_to_live": _ratio(window.get("rps"), live_rps),
            "cpu_ratio_to_live": _ratio(live_cpu, window.get("server_cpu_ms_per_request"))}
    lives = windows[0::2]
    neighbours = list(itertools.pairwise(lives))
    paired[LIVE] = {"windows": lives,
                    "control_ratios": [_ratio(b.get("rps"), a.get("rps")) for a, b in neighbours],
                    "control_cpu_ratios": [_ratio(a.get("server_cpu_ms_per_request"),
                                                  b.get("server_cpu_ms_per_request")) for a, b in neighbours]}
    return paired


def median(values: list[float | None]) -> float | None:
    """Median of the values that are not None (None when there are none), rounded to 3 digits."""
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def _spread(values: list[float | None]) -> tuple[float | None, float | None]:
    present = [v for v in values if v is not None]
    return (min(present), max(present)) if present else (None, None)


def _totals(windows: list[dict]) -> dict:
    return {key: sum(w.get(key) or 0 for w in windows) for key in ("requests", "non_2xx", "errors")}


def _latency(windows: list[dict]) -> dict:
    p99s = [w.get("p99_ms") for w in windows]
    return {"rps": median([w.get("rps") for w in windows]), "p50_ms": median([w.get("p50_ms") for w in windows]),
            "p99_ms": median(p99s), "p99_max_ms": _spread(p99s)[1],
            "server_cpu_ms_per_request": median([w.get("server_cpu_ms_per_request") for w in windows])}


def summarise(name: str, rounds: list[dict]) -> dict:
    """One endpoint's row over all rounds (each an entry of pair_round() for it): medians of req/s, p50, p99 and
    CPU per request; the median ratio to /live and by CPU with their min and max; requests, non-2xx and errors
    summed; and every round kept under "rounds"."""
    if name == LIVE:
        windows = [w for r in rounds for w in r["windows"]]
        control = [x for r in rounds for x in r["control_ratios"]]
        control_cpu = [x for r in rounds for x in r["control_cpu_ratios"]]
        low, high = _spread(control)
        cpu_low, cpu_high = _spread(control_cpu)
        return {**_latency(windows), **_totals(windows), "ratio_to_live": 1.0, "cpu_ratio_to_live": 1.0,
                "control_ratio": median(control), "control_min": low, "control_max": high,
                "control_cpu_ratio": median(control_cpu), "control_cpu_min": cpu_low, "control_cpu_max": cpu_high,
                "windows_count": len(windows), "rounds": rounds}
    ratios = [r.get("ratio_to_live") for r in rounds]
    cpu_ratios = [r.get("cpu_ratio_to_live") for r in rounds]
    low, high = _spread(ratios)
    cpu_low, cpu_high = _spread(cpu_ratios)
    return {**_latency(rounds), **_totals(rounds), "ratio_to_live": median(ratios), "ratio_min": low,
            "ratio_max": high, "cpu_ratio_to_live": median(cpu_ratios), "cpu_ratio_min": cpu_low,
            "cpu_ratio_max": cpu_high, "windows_count": len(rounds), "rounds": rounds}

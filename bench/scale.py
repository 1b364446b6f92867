"""Detection at scale, side by side: events/s of the core on one core, state size, peak RSS, latency.

    python -m bench.scale [--events 100000] [--users 1000,10000,100000] [--budget 150]
    python -m bench.scale --write-month month.jsonl [--users 400 --events 43522]

Cases, each run in its own process pinned to one CPU (so peak RSS is the case's own):

- `mixed detect`: every detector over a mixed stream of the 10 sources (the normalizers' golden
  fixtures, entity fields varied over 20k users/IPs/hosts, 50 ms apart), events built before
  timing: the detection engine alone, with its event-time clock.
- `mixed core`: the same fixtures' raw records, replayed (each with its own offset, hence its own
  event id) through normalize -> enrich -> detect.
- `month N users`: a month-long (35 days) replay of synthetic app sign-ins of N users through the
  whole embedded core (read file -> normalize -> enrich -> detect + clock), as `secmon run` does.
  The number of events is fixed per case (`--events`), so the comparison is per event and only
  the population changes. `month 400 users` is the realistic month of `bench.signin_month` (400
  users, ~42k sign-ins, takeovers and hard negatives), or this module's own when that is absent.
- `e2e`: the end-to-end worker (shipper -> Kafka -> worker -> ES) against a raw `_bulk` loop of
  the same documents on the same node, and their ratio (`bench.scale_e2e`; needs the services).

Every case runs twice, side by side: with every detector (the anomaly detectors learning from the
stream, as `secmon run` does without a model file) and with the `anomaly_*` detectors off
(`--anomaly on` or `off` runs one of the two). A case stops after `--budget` seconds (the rate is
then measured over the events it processed, and the row says so). Rates are per wall second and
per CPU second of the case's process (`time.process_time`: less sensitive to other work on a
shared machine). Latency is per record/event (p50/p99), with the clock's ticks. State is the
detector store at the end: (detector, entity) entries and their size as JSON, per entry and per
user. `--disable` leaves further detectors out by id prefix. `--chart PNG` draws events/s against
users (matplotlib). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

START = datetime(2026, 10, 26, tzinfo=timezone.utc)
DAY = 86400.0
UAS = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
)
# One country each, checked against the bundled GeoIP data: (home/office /16, phone network /16, UTC
# hour of the middle of its working day): GB, FR, DE, IT, ES, US east, US west, BR, IN, JP, AU
PREFIXES = (
    ("2.218", "2.220", 12),
    ("2.15", "2.9", 11),
    ("2.172", "2.162", 11),
    ("2.117", "2.237", 11),
    ("2.140", "31.4", 11),
    ("3.168", "3.204", 17),
    ("3.212", "3.204", 20),
    ("18.230", "18.228", 15),
    ("1.7", "1.6", 7),
    ("1.115", "1.114", 3),
    ("1.145", "1.126", 2),
)
TOR, SPRAYER = "185.220.101.45", "45.155.205.233"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def month_signins(users: int, events: int, days: int = 35, seed: int = 13) -> list[dict]:
    """`events` app sign-ins of `users` users over `days`, in time order.

    Each workspace (25 users) has an office IP in one country; each user a home IP there, one or
    two devices, MFA (95 % of users) and a working day in that country's hours; some users are
    much more active than others. 3 % of attempts fail, 4 % come from a phone network, 0.3 % from
    abroad (new countries, some impossible travel). Every 20,000 events a brute force (30 failures
    from one IP) and a password spray (15 users) are mixed in."""
    rng = random.Random(seed)
    spaces = max(1, users // 25)
    office = [(PREFIXES[w % len(PREFIXES)], f"{rng.randrange(256)}.{rng.randrange(1, 255)}") for w in range(spaces)]
    people = []
    for u in range(users):
        ws = u % spaces
        (prefix, _, hour), _ = office[ws]
        devices = (
            (rng.randrange(len(UAS)),) if rng.random() < 0.6 else (rng.randrange(len(UAS)), rng.randrange(len(UAS)))
        )
        people.append(
            (ws, f"{prefix}.{rng.randrange(256)}.{rng.randrange(1, 255)}", devices, rng.random() < 0.95, hour)
        )
    rows = []
    span = days * DAY
    start = START.timestamp()
    for i in range(events):
        u = int(users * rng.random() ** 1.6)  # a few very active users, a long tail of occasional ones
        ws, home, devices, mfa, hour = people[u]
        day = int(rng.random() * days)
        ts = start + day * DAY + ((hour + rng.gauss(0, 2.5)) % 24) * 3600
        (prefix, phone, _), office_host = office[ws]
        pick = rng.random()
        if pick < 0.003:
            other = PREFIXES[rng.randrange(len(PREFIXES))][0]
            ip = f"{other}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        elif pick < 0.043:
            ip = f"{phone}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        elif pick < 0.4:
            ip = home
        else:
            ip = f"{prefix}.{office_host}"
        ok = rng.random() > 0.03
        rows.append(
            (
                ts,
                {
                    "user": f"user{u}@ws{ws}.example",
                    "user_id": f"u-{u}",
                    "workspace": f"ws-{ws}",
                    "outcome": "success" if ok else "failure",
                    **({} if ok else {"failure_reason": "bad_password"}),
                    "source_ip": ip,
                    "user_agent": UAS[devices[rng.randrange(len(devices))]],
                    "auth_method": "password",
                    "mfa_used": ok and mfa,
                    **({"session_id": f"s-{seed}-{i}"} if ok else {}),
                },
            )
        )
    for n in range(max(1, events // 20_000)):
        at = start + span * (n + 0.5) / max(1, events // 20_000)
        victim = rng.randrange(users)
        rows += [
            (
                at + 2 * k,
                {
                    "user": f"user{victim}@ws{victim % spaces}.example",
                    "workspace": f"ws-{victim % spaces}",
                    "outcome": "failure",
                    "failure_reason": "bad_password",
                    "source_ip": TOR,
                    "user_agent": "python-requests/2.32.3",
                    "auth_method": "password",
                    "mfa_used": False,
                },
            )
            for k in range(30)
        ]
        rows += [
            (
                at + 3600 + 5 * k,
                {
                    "user": f"user{(victim + 7 * k) % users}@ws{(victim + 7 * k) % users % spaces}.example",
                    "outcome": "failure",
                    "failure_reason": "bad_password",
                    "source_ip": SPRAYER,
                    "user_agent": "curl/8.5.0",
                    "auth_method": "password",
                    "mfa_used": False,
                },
            )
            for k in range(15)
        ]
    rows.sort(key=lambda r: r[0])
    return [{"timestamp": _iso(ts), **row} for ts, row in rows]


def write_month(path: str, users: int, events: int) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for row in month_signins(users, events):
            out.write(json.dumps(row, separators=(",", ":")) + "\n")


def _settings():
    """Default settings, less the detectors named by SECMON_BENCH_DISABLE (comma list of id prefixes)."""
    from bench.profile import settings_without

    return settings_without(os.environ.get("SECMON_BENCH_DISABLE", ""))


def _pin() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def _load() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def _state_size(store) -> tuple[int, int]:
    import orjson

    keys = list(store.keys())
    return len(keys), sum(len(orjson.dumps(store.get(k).to_doc())) for k in keys)


def _result(
    name: str,
    users: int | None,
    n: int,
    total: int,
    elapsed: float,
    latencies: list[float],
    store,
    alerts: int,
    detectors: int,
    cpu: float,
) -> dict:
    latencies.sort()
    entries, size = _state_size(store)
    return {
        "case": name,
        "users": users,
        "events": n,
        "planned": total,
        "seconds": elapsed,
        "rate": n / elapsed if elapsed else 0.0,
        "cpu": cpu,
        "cpu_rate": n / cpu if cpu else 0.0,
        "p50_us": _pct(latencies, 0.5) * 1e6,
        "p99_us": _pct(latencies, 0.99) * 1e6,
        "entries": entries,
        "bytes": size,
        "alerts": alerts,
        "detectors": detectors,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_month(users: int, events: int, budget: float) -> dict:
    """The whole embedded core over a month of sign-ins of `users` users, read from a file."""
    from detectors.clock import EventClock
    from pipeline.embedded import Summary, build_engine
    from pipeline.enrichers.registry import default_enrichers
    from pipeline.heap import tune_gc
    from pipeline.normalizers.app_signin import NORMALIZER
    from pipeline.process import process_record
    from pipeline.readers import read_records

    settings = _settings()
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as tmp:
        path = tmp.name
    try:
        if users == REALISTIC:
            _realistic_month(path)
        else:  # in another process, so that this one's peak RSS is the detection's
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.scale",
                    "--write-month",
                    path,
                    "--users",
                    str(users),
                    "--events",
                    str(events),
                ],
                check=True,
            )
        total = sum(1 for _ in open(path, "rb"))
        summary = Summary()
        engine = build_engine(settings, summary)
        clock = EventClock(engine, every=timedelta(seconds=settings.detection.tick_seconds))
        enrichers, parse_options, limit = (
            default_enrichers(settings),
            settings.parse.options(),
            settings.parse.max_record_bytes,
        )
        tune_gc()  # as `secmon run` does once the core is built (pipeline.embedded.run)
        latencies: list[float] = []
        alerts, n = 0, 0
        clock_t = time.perf_counter
        started, cpu_started = clock_t(), time.process_time()
        for record in read_records(path, NORMALIZER, limit):
            t0 = clock_t()
            for event in process_record(record, NORMALIZER, enrichers, parse_options, limit).events:
                alerts += len(engine.process(event)) + len(clock.observe(event.timestamp))
            t1 = clock_t()
            latencies.append(t1 - t0)
            n += 1
            if t1 - started > budget:
                break
        alerts += len(clock.finish())
        elapsed, cpu = clock_t() - started, time.process_time() - cpu_started
    finally:
        os.unlink(path)
    name = f"month {users:,} users" if users != REALISTIC else "month 400 users (bench.signin_month)"
    return _result(
        name,
        None if users == REALISTIC else users,
        n,
        total,
        elapsed,
        latencies,
        engine.store,
        alerts,
        len(engine.detectors),
        cpu,
    )


REALISTIC = 400


def _realistic_month(path: str) -> None:
    """The realistic month of bench.signin_month (400 users, 35 days, labelled takeovers) when that
    generator is there, else this module's own 400-user month."""
    try:
        import bench.signin_month  # noqa: F401
    except ImportError:
        write_month(path, REALISTIC, 43_522)
        return
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [sys.executable, "-m", "bench.signin_month", "--out", out, "--users", str(REALISTIC)],
            check=True,
            capture_output=True,
        )
        os.replace(os.path.join(out, "signins.jsonl"), path)


def run_mixed_detect(events: int, budget: float) -> dict:
    """Every detector over a mixed 10-source stream of prebuilt events (detection only)."""
    from bench.engine_throughput import templates, vary
    from detectors.clock import EventClock
    from detectors.engine import Engine
    from detectors.registry import configure
    from detectors.state import DictStore

    rng = random.Random(7)
    base = templates()
    engine = Engine(configure(_settings().detection.detectors), DictStore(), lateness=timedelta(minutes=5))
    clock = EventClock(engine, every=timedelta(minutes=1))
    latencies: list[float] = []
    alerts = n = 0
    elapsed = 0.0
    clock_t = time.perf_counter
    cpu = 0.0
    while n < events and elapsed <= budget:
        batch = [vary(rng.choice(base), n + i, rng, 20_000) for i in range(min(20_000, events - n))]
        cpu_started = time.process_time()
        for event in batch:
            t0 = clock_t()
            alerts += len(engine.process(event)) + len(clock.observe(event.timestamp))
            latencies.append(clock_t() - t0)
        cpu += time.process_time() - cpu_started
        elapsed += sum(latencies[n:])
        n += len(batch)
    return _result(
        "mixed detect (10 sources)",
        None,
        n,
        events,
        elapsed,
        latencies,
        engine.store,
        alerts,
        len(engine.detectors),
        cpu,
    )


def run_mixed_core(events: int, budget: float) -> dict:
    """The 10 sources' raw fixture records replayed through normalize -> enrich -> detect."""
    from pathlib import Path

    from detectors.clock import EventClock
    from pipeline.embedded import Summary, build_engine
    from pipeline.enrichers.registry import default_enrichers
    from pipeline.heap import tune_gc
    from pipeline.normalizers.base import RawRecord
    from pipeline.normalizers.registry import NORMALIZERS
    from pipeline.process import process_record
    from pipeline.readers import read_records

    data = Path(__file__).parents[1] / "tests" / "data" / "normalizers"
    records = []
    for source in sorted(NORMALIZERS):
        for path in sorted((data / source).glob("*")):
            if path.is_file() and not path.name.endswith("-expected.json"):
                records += [(NORMALIZERS[source], r) for r in read_records(str(path), NORMALIZERS[source], 1 << 20)]
    settings = _settings()
    summary = Summary()
    engine = build_engine(settings, summary)
    clock = EventClock(engine, every=timedelta(seconds=settings.detection.tick_seconds))
    enrichers, parse_options = default_enrichers(settings), settings.parse.options()
    tune_gc()  # as `secmon run` does once the core is built (pipeline.embedded.run)
    latencies: list[float] = []
    alerts = n = 0
    clock_t = time.perf_counter
    started, cpu_started = clock_t(), time.process_time()
    while n < events and clock_t() - started <= budget:
        for normalizer, record in records:
            replay = RawRecord(record.data, record.origin.at(offset=n), record.received, record.header)
            t0 = clock_t()
            for event in process_record(replay, normalizer, enrichers, parse_options).events:
                alerts += len(engine.process(event)) + len(clock.observe(event.timestamp))
            latencies.append(clock_t() - t0)
            n += 1
            if n >= events:
                break
    elapsed, cpu = sum(latencies), time.process_time() - cpu_started
    return _result(
        f"mixed core (10 sources, {len(records)} records replayed)",
        None,
        n,
        events,
        elapsed,
        latencies,
        engine.store,
        alerts,
        len(engine.detectors),
        cpu,
    )


def _child(case: str, events: int, budget: float) -> None:
    _pin()
    kind, _, arg = case.partition(":")
    if kind == "month":
        result = run_month(int(arg), events, budget)
    elif kind == "mixed_detect":
        result = run_mixed_detect(events, budget)
    else:
        result = run_mixed_core(events, budget)
    print(json.dumps(result))


def _row(r: dict, anomaly: str) -> str:
    cut = "" if r["events"] >= r["planned"] else f"  (stopped by the budget after {r['events']:,} of {r['planned']:,})"
    per = r["bytes"] / r["entries"] if r["entries"] else 0
    per_user = f"{r['bytes'] / r['users']:>7.0f}" if r["users"] else f"{'-':>7}"
    return (
        f"{r['case']:<44} {anomaly:>7} {r['events']:>8,} {r['rate']:>10,.0f} {r['cpu_rate']:>10,.0f} "
        f"{r['p50_us']:>8.0f} {r['p99_us']:>8.0f} "
        f"{r['entries']:>9,} {per:>7.0f} {per_user} {r['bytes'] / 1e6:>8.1f} {r['rss_mb']:>7.0f}{cut}"
    )


def _chart(path: str, results: list[tuple[str, dict]]) -> None:
    """events/s (per CPU second) of the month cases against users, one line per anomaly setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for anomaly in ("on", "off"):
        points = sorted((r["users"], r["cpu_rate"]) for a, r in results if a == anomaly and r["users"])
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=f"anomaly detectors {anomaly}")
    ax.set_xscale("log")
    ax.set_xlabel("users in the month replayed")
    ax.set_ylabel("events per CPU second (one core)")
    ax.set_ylim(bottom=0)
    ax.set_title("secmon embedded core: month of sign-ins")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="events per month case")
    parser.add_argument("--users", default="1000,10000,100000", help="populations of the month cases")
    parser.add_argument("--mixed-events", type=int, default=200_000, help="events of the mixed cases")
    parser.add_argument("--budget", type=float, default=150.0, help="seconds a case may run")
    parser.add_argument("--no-realistic", action="store_true", help="skip the 400-user realistic month")
    parser.add_argument("--disable", default="", help="detectors also left out: comma list of id prefixes")
    parser.add_argument(
        "--anomaly", choices=("both", "on", "off"), default="both", help="anomaly detectors on, off or both"
    )
    parser.add_argument("--chart", metavar="PNG", help="draw events/s against users of the month cases here")
    parser.add_argument("--only", help="comma list of cases: mixed_detect, mixed_core, month:<users>, e2e")
    parser.add_argument("--e2e-events", type=int, default=60_000, help="sign-ins of the end-to-end case")
    parser.add_argument("--no-e2e", action="store_true", help="skip the end-to-end case (needs Kafka and ES)")
    parser.add_argument("--write-month", metavar="PATH", help="write a month of sign-ins (--users, --events) and exit")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        _child(args.case, args.mixed_events if args.case.startswith("mixed") else args.events, args.budget)
        return
    if args.write_month:
        write_month(args.write_month, int(args.users.split(",")[0]), args.events)
        return
    cases = [("mixed_detect", args.mixed_events), ("mixed_core", args.mixed_events)]
    if not args.no_realistic:
        cases.append((f"month:{REALISTIC}", 0))
    cases += [(f"month:{int(u)}", args.events) for u in args.users.split(",") if u]
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c[0] in wanted]
    print(
        f"machine: {os.cpu_count()} cores ({platform.processor() or platform.machine()}), each case pinned to 1 core, "
        f"Python {platform.python_version()}; budget {args.budget:.0f}s per case"
        + (f"; detectors disabled: {args.disable}*" if args.disable else "")
        + f"; load {_load()} (other work on a shared machine slows even the per-CPU-second rates)"
    )
    print(
        f"{'case':<44} {'anomaly':>7} {'events':>8} {'events/s':>10} {'/CPU s':>10} {'p50 us':>8} {'p99 us':>8} "
        f"{'entries':>9} {'B/entry':>7} {'B/user':>7} {'state MB':>8} {'RSS MB':>7}"
    )
    settings = [a for a in ("on", "off") if args.anomaly in ("both", a)]
    results: list[tuple[str, dict]] = []
    for case, events in cases:
        flag = "--mixed-events" if case.startswith("mixed") else "--events"
        for anomaly in settings:
            disabled = ",".join(p for p in (args.disable, "anomaly_" if anomaly == "off" else "") if p)
            out = subprocess.run(
                [sys.executable, "-m", "bench.scale", "--case", case, flag, str(events), "--budget", str(args.budget)],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "SECMON_BENCH_DISABLE": disabled},
            )
            if out.returncode != 0:
                print(f"{case} (anomaly {anomaly}): failed\n{out.stderr[-2000:]}")
                continue
            result = json.loads(out.stdout.strip().splitlines()[-1])
            results.append((anomaly, result))
            print(_row(result, anomaly), flush=True)
    for anomaly in settings:
        months = {r["users"]: r for a, r in results if a == anomaly and r["users"]}
        if 1000 in months and 100_000 in months:
            print(
                f"100k users vs 1k users, anomaly {anomaly}: {months[100_000]['rate'] / months[1000]['rate']:.2f}x "
                f"the events/s ({months[100_000]['cpu_rate'] / months[1000]['cpu_rate']:.2f}x per CPU second)"
            )
    if args.chart and any(r["users"] for _, r in results):
        _chart(args.chart, results)
        print(f"chart: {args.chart}")
    if results:
        print(f"detectors enabled: {max(r['detectors'] for _, r in results)} (anomaly on); load at the end {_load()}")
    if not args.no_e2e and (not args.only or "e2e" in args.only.split(",")):
        from bench.scale_e2e import report, run_e2e

        report(
            run_e2e(
                args.e2e_events,
                1000,
                os.environ.get("SECMON_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
                os.environ.get("SECMON_ES_URL", "http://127.0.0.1:9200"),
            )
        )


if __name__ == "__main__":
    main()

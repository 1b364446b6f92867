"""Cost of the behaviour models: scoring throughput, training time and model size.

    python -m bench.anomaly [--users 400] [--days 35] [--train-users 4000] [--train-days 84]

1. `secmon run` over a generated month (bench.signin_month) with every detector, on one core:
   anomaly detectors off, learning from the file (the default), and scoring with a model file.
2. Training on a bigger population (~1M sign-ins by default): reading and enriching the file,
   the profile replay, the fit, and the size of the signed model file.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.signin_month import generate
from detectors.anomaly.artifact import save
from pipeline import embedded
from pipeline.anomaly.training import file_events, fit_all, replays
from pipeline.settings import SecmonSettings

KEY = "bench-model-key"
ANOMALY = ("anomaly_signin", "anomaly_staff_access", "anomaly_server_access")


def settings(context: Path, model: Path | None = None, anomaly: bool = True) -> SecmonSettings:
    """Default settings over the month's users table, with or without the anomaly detectors."""
    detectors = {} if anomaly else {d: {"enabled": False} for d in ANOMALY}
    return SecmonSettings(
        enrich={"context_dir": context}, detection={"detectors": detectors}, anomaly={"model": model, "key": KEY}
    )


def train(path: Path, cfg: SecmonSettings, out: Path) -> dict:
    """Train on `path` as `secmon anomaly train` does, timing each part."""
    started = time.perf_counter()
    events = list(file_events([str(path)], cfg, "app_signin"))
    read = time.perf_counter() - started
    trained = replays(cfg)
    started = time.perf_counter()
    for event in events:
        for r in trained:
            r.add(event)
    replayed = time.perf_counter() - started
    started = time.perf_counter()
    bundle, _ = fit_all(trained, str(path))
    fitted = time.perf_counter() - started
    save(bundle, out, KEY.encode())
    return {
        "events": len(events),
        "read": read,
        "replay": replayed,
        "fit": fitted,
        "vectors": sum(m.samples for m in bundle.values()),
        "bytes": out.stat().st_size,
        "entities": sum(len(r.profiles) for r in trained),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--train-users", type=int, default=4000)
    parser.add_argument("--train-days", type=int, default=84)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        month = Path(tmp) / "month"
        generate(month, users=args.users, days=args.days, seed=7)
        path, context, model = month / "signins.jsonl", month / "context", Path(tmp) / "month.model"
        t = train(path, settings(context), model)
        print(
            f"month: {t['events']:,} sign-ins of {args.users} users; model trained in {t['replay'] + t['fit']:.1f}s "
            f"({t['vectors']:,} vectors), file {t['bytes'] / 1024:.0f} KiB"
        )
        for label, cfg in (
            ("anomaly detectors off       ", settings(context, anomaly=False)),
            ("learning from the file      ", settings(context)),
            ("scoring with the model file ", settings(context, model)),
        ):
            summary = embedded.run([str(path)], cfg)
            print(
                f"secmon run, {label}: {summary.events / summary.seconds:7,.0f} events/s "
                f"({summary.events:,} events in {summary.seconds:.1f}s, {len(summary.alerts)} alerts)"
            )
        big = Path(tmp) / "big"
        generate(big, users=args.train_users, days=args.train_days, takeovers=0, seed=8)
        t = train(big / "signins.jsonl", settings(big / "context"), Path(tmp) / "big.model")
        print(
            f"training on {t['events']:,} sign-ins of {t['entities']:,} profiles: read + enrich {t['read']:.0f}s, "
            f"profile replay {t['replay']:.0f}s ({t['events'] / t['replay']:,.0f} events/s), fit {t['fit']:.1f}s "
            f"on {t['vectors']:,} vectors, model file {t['bytes'] / 1024 / 1024:.1f} MiB"
        )


if __name__ == "__main__":
    main()

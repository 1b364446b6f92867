"""Mutation fuzz over every normalizer: real-format lines, mutated, through parse + enrichment.

    python -m bench.fuzz_normalizers [--lines 110000] [--seed 18] [--dead-letters FILE]

Seeds are the golden inputs of tests/data/normalizers/<source>/ plus, where present, the real
samples of /work/shared/data (SECMON_SAMPLES), read the way the runner reads them (headers,
splitters, gzip). Each line gets one to three mutations (byte flips, cut spans, duplicated spans,
1-5 KB runs that cross the schema bounds, invalid UTF-8, control characters, huge numbers,
swapped fields) and goes through `process_record` with the default enrichers, as `secmon run`
does. Every dead letter is written to a JSON-lines file and read back and validated.

A second pass, "bounds", takes every event the seeds give and, for each of its bounded text fields
(a keyword: 1,024 characters, a long keyword: 65,536) whose value appears verbatim in the line,
makes that value overlong in the line: the event must still come out with the field cut at its
bound and named in `secmon.truncated`, or the line be rejected for another reason than its length
(e.g. an address that is no longer an address); never an internal error, never a length dead letter.

Printed per source and in total: lines, events, dead letters per code, lines the normalizer
ignores by design (no event, no dead letter: e.g. sshd lines about nothing secmon watches), internal errors (an
`internal_error` dead letter or an exception escaping), and the lines/s (noisy on a shared machine).
Exits 1 when there is an internal error or a dead letter that was not written back intact.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from annotated_types import MaxLen
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from pipeline.enrichers.registry import default_enrichers
from pipeline.normalizers.base import Normalizer, RawRecord
from pipeline.normalizers.registry import NORMALIZERS
from pipeline.process import process_record
from pipeline.readers import read_records
from pipeline.settings import SecmonSettings
from schemas.deadletter import DeadLetter
from schemas.event import Event

ROOT = Path(__file__).parents[1]
GOLDEN = ROOT / "tests" / "data" / "normalizers"
SAMPLES = Path(os.environ.get("SECMON_SAMPLES", "/work/shared/data"))
REAL = {  # source -> sample files of /work/shared/data in its format
    "sshd": ["fail2ban_sshd_labelled/sshd.failJSON.head300.log"],
    "web_access": [
        "web_access_logs/elastic_examples_apache_logs.head300.log",
        "web_access_logs/nielsbasjes_hackers-access.head300.log",
    ],
    "cloudtrail": ["invictus_cloudtrail/invictus_aws_dataset_subset.ndjson"],
    "zeek_ssl": ["zeek_wrccdc2018_tls/ssl.sample.log"],
    "zeek_x509": ["zeek_wrccdc2018_tls/x509.head250.log"],
}
LONG_TOKENS = (b"A", b"x", b"%41", b"\xc3\xa9", b"/..", b"9", b"Mozilla/5.0 (", b'"', b"\\u0000")


def seeds(source: str, normalizer: Normalizer, limit: int) -> list[RawRecord]:
    """Records of the source's golden files and real samples, as the runner frames them."""
    paths = [p for p in sorted((GOLDEN / source).glob("*")) if p.is_file() and not p.name.endswith("-expected.json")]
    paths += [SAMPLES / name for name in REAL.get(source, []) if (SAMPLES / name).is_file()]
    found: list[RawRecord] = []
    for path in paths:
        found += [r for r in read_records(str(path), normalizer, limit) if r.data and not r.data.startswith(b"# ")]
    return found


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three random edits of a line."""
    buf = bytearray(data)
    for _ in range(rng.choices((1, 2, 3), weights=(7, 2, 1))[0]):
        op = rng.randrange(9)
        at = rng.randrange(len(buf) + 1)
        if op == 0 and buf:  # flip bytes
            for _ in range(rng.randint(1, 4)):
                buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif op == 1:  # cut a span
            del buf[at : at + rng.randint(1, 40)]
        elif op == 2 and buf:  # duplicate a span
            start = rng.randrange(len(buf))
            buf[at:at] = buf[start : start + rng.randint(1, 200)]
        elif op == 3:  # a run that crosses the 1,024-character keyword bound
            token = rng.choice(LONG_TOKENS)
            buf[at:at] = token * (rng.randint(1030, 5000) // len(token) + 1)
        elif op == 4:  # invalid UTF-8 or control characters
            buf[at:at] = rng.choice(
                [b"\xff\xfe", b"\x00", b"\x1b[31m", b"\r", b"\t\t", b"\xed\xa0\x80", b"\xe2\x80\xae"]
            )
        elif op == 5:  # a huge or odd number
            buf[at:at] = rng.choice([b"99999999999999999999999", b"-1", b"1e309", b"NaN", b"0x7fffffff"])
        elif op == 6:  # truncate
            del buf[at:]
        elif op == 7:  # swap two fields
            parts = bytes(buf).split(b" ")
            if len(parts) > 2:
                i, j = rng.randrange(len(parts)), rng.randrange(len(parts))
                parts[i], parts[j] = parts[j], parts[i]
                buf = bytearray(b" ".join(parts))
        else:  # JSON structure characters
            buf[at:at] = rng.choice([b"{", b"}", b"[", b"]", b'"', b":", b",", b'{"a":' * 50])
    return bytes(buf)


def fuzz(
    source: str, normalizer: Normalizer, lines: int, rng: random.Random, enrichers, parse_options, limit: int, out
) -> dict:
    """Mutated lines of one source through parse + enrichment; the counts."""
    base = seeds(source, normalizer, limit)
    codes: Counter = Counter()
    events = escaped = ignored = 0
    for n in range(lines):
        seed = base[n % len(base)]
        record = RawRecord(
            data=mutate(seed.data, rng), origin=seed.origin.model_copy(update={"offset": n}), header=seed.header
        )
        try:
            result = process_record(record, normalizer, enrichers, parse_options, limit)
        except Exception as exc:  # noqa: BLE001 - what the fuzz run looks for
            escaped += 1
            print(f"ESCAPED {source}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        events += len(result.events)
        ignored += not result.events and result.dead_letter is None
        for event in result.events:
            json.dumps(event.to_doc())  # indexable
        if result.dead_letter is not None:
            codes[result.dead_letter.error_code] += 1
            out.write(json.dumps(result.dead_letter.to_doc()) + "\n")
    return {
        "seeds": len(base),
        "lines": lines,
        "events": events,
        "codes": codes,
        "escaped": escaped,
        "ignored": ignored,
    }


def text_bound(annotation: Any) -> int | None:
    """The max_length of a (possibly optional or list-of) bounded text type, from its annotation."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        for meta in args[1:]:
            inner = meta.metadata if isinstance(meta, FieldInfo) else [meta]
            for item in inner:
                if isinstance(item, MaxLen) and args[0] is str:
                    return item.max_length
        return text_bound(args[0])
    if origin in (Union, UnionType, list):
        return next((b for b in map(text_bound, args) if b is not None), None)
    return None


def bounded_values(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, int, str]]:
    """(ECS path, bound, value) of every bounded text value an event holds."""
    for name, field in type(model).model_fields.items():
        value, path = getattr(model, name), f"{prefix}{field.alias or name}"
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, BaseModel):
                yield from bounded_values(item, path + ".")
            elif isinstance(item, str) and (bound := text_bound(field.annotation)) is not None:
                yield path, bound, item


def overlong_variants(record: RawRecord, events: list[Event]) -> Iterator[tuple[str, int, RawRecord]]:
    """The record with one bounded value made longer than its bound, for each such value found verbatim."""
    seen: set[tuple[str, str]] = set()
    for event in events:
        for path, bound, value in bounded_values(event):
            raw = value.encode()
            if path.startswith("secmon.") or len(value) < 4 or raw not in record.data or (path, value) in seen:
                continue
            seen.add((path, value))
            longer = raw + b"Z" * (bound + 37 - len(value))  # 37: no prefix of a real field is that long
            yield path, bound, RawRecord(record.data.replace(raw, longer, 1), record.origin, header=record.header)


LENGTH_WORDS = ("at most", "too long", "characters", "too_large")


def bounds(
    source: str, normalizer: Normalizer, enrichers, parse_options, limit: int, max_seeds: int | None = None
) -> dict:
    """Every bounded field of every seed event (of the first `max_seeds`) made overlong: how the variants came out."""
    out: dict[str, Any] = {
        "fields": set(),
        "variants": 0,
        "cut": 0,
        "elsewhere": 0,
        "unnamed": [],
        "rejected": Counter(),
        "bad": [],
    }
    for seed in seeds(source, normalizer, limit)[:max_seeds]:
        events = process_record(seed, normalizer, enrichers, parse_options, limit).events
        for path, bound, variant in overlong_variants(seed, events):
            out["variants"] += 1
            out["fields"].add(path)
            try:
                result = process_record(variant, normalizer, enrichers, parse_options, limit)
            except Exception as exc:  # noqa: BLE001 - what the run looks for
                out["bad"].append(f"{path}: escaped {type(exc).__name__}: {exc}")
                continue
            letter = result.dead_letter
            if letter is not None:
                if letter.error_code in ("internal_error", "too_large") or any(
                    w in letter.reason for w in LENGTH_WORDS
                ):
                    out["bad"].append(f"{path}: {letter.error_code}: {letter.reason[:160]}")
                else:
                    out["rejected"][f"{path}: {letter.error_code}"] += 1
            else:
                unnamed = {p for e in result.events for p in _at_bound(e) if p not in e.secmon.truncated}
                out["unnamed"] += sorted(unnamed)
                if any(path in e.secmon.truncated and path in _at_bound(e, bound) for e in result.events):
                    out["cut"] += 1
                elif not unnamed:
                    out["elsewhere"] += 1  # the longer text fed no bounded field (a message, an ignored token)
    return out


def _at_bound(event: Event, only: int | None = None) -> set[str]:
    """Paths holding a value exactly as long as its bound (`only`: that bound)."""
    return {p for p, bound, value in bounded_values(event) if len(value) == bound and only in (None, bound)}


def written_back(path: Path) -> int:
    """Dead letters in the file that validate as DeadLetter records."""
    with path.open(encoding="utf-8") as stream:
        return sum(1 for line in stream if DeadLetter.model_validate(json.loads(line)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--lines", type=int, default=110_000, help="mutated lines in all, split over the sources")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--dead-letters", type=Path, help="keep the dead letters here (default: a temp file)")
    args = parser.parse_args()
    settings = SecmonSettings()
    parse_options, enrichers, limit = (
        settings.parse.options(),
        default_enrichers(settings),
        settings.parse.max_record_bytes,
    )
    per_source = -(-args.lines // len(NORMALIZERS))
    rng = random.Random(args.seed)
    dead_path = args.dead_letters or Path(tempfile.mkstemp(suffix=".jsonl", prefix="fuzz-dead-")[1])
    totals: Counter = Counter()
    started = time.perf_counter()
    with dead_path.open("w", encoding="utf-8") as out:
        for source, normalizer in sorted(NORMALIZERS.items()):
            r = fuzz(source, normalizer, per_source, rng, enrichers, parse_options, limit, out)
            internal = r["codes"]["internal_error"] + r["escaped"]
            totals.update(lines=r["lines"], events=r["events"], dead=sum(r["codes"].values()), internal=internal)
            totals.update({f"code:{c}": n for c, n in r["codes"].items()})
            print(
                f"{source:<13} seeds {r['seeds']:>4}  lines {r['lines']:>7,}  events {r['events']:>7,}  dead letters "
                f"{sum(r['codes'].values()):>7,}  ignored {r['ignored']:>5,}  internal errors {internal}  "
                + " ".join(f"{c}={n}" for c, n in sorted(r["codes"].items()))
            )
    seconds = time.perf_counter() - started
    back = written_back(dead_path)
    print(
        f"total: {totals['lines']:,} mutated lines over {len(NORMALIZERS)} normalizers, {totals['events']:,} events, "
        f"{totals['dead']:,} dead letters ({back:,} written and read back valid), "
        f"{totals['internal']} internal errors, {totals['lines'] / seconds:,.0f} lines/s "
        f"({os.cpu_count()} cores, shared machine: noisy)"
    )
    print(
        "dead letters by code: "
        + ", ".join(f"{k[5:]}={v:,}" for k, v in sorted(totals.items()) if k.startswith("code:"))
    )
    if not args.dead_letters:
        dead_path.unlink()
    failed = 0
    for source, normalizer in sorted(NORMALIZERS.items()):
        b = bounds(source, normalizer, enrichers, parse_options, limit)
        failed += len(b["bad"]) + len(b["unnamed"])
        print(
            f"bounds {source:<13} fields {len(b['fields']):>3}  overlong lines {b['variants']:>5,}  cut and named "
            f"{b['cut']:>5,}  fed no bounded field {b['elsewhere']:>4,}  "
            f"rejected for another reason {sum(b['rejected'].values()):>4,}  "
            f"not named {len(b['unnamed'])}  length or internal errors {len(b['bad'])}"
        )
        for problem in b["bad"][:5] + [f"{p}: cut but not named" for p in b["unnamed"][:5]]:
            print(f"  {problem}")
    return 1 if totals["internal"] or back != totals["dead"] or failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Our Sigma correlations against pysigma-backend-sqlite: the same (correlation, group) must fire.

Each scenario is a sequence of CloudTrail events. Ours: the events go one by one through the
engine (`detectors.sigma.correlate` on a `DictStore`), and every alert is one (rule, group),
the group being the detector's own key of the event that fired it. Reference: the same raw
records in a SQLite table (`reference.Reference`), the backend's correlation query (converted
through the pipeline our compiler uses, timestamps from `eventTime`) run over the whole table;
each row it returns is one (rule, group_keys). Both sides must give the same set.

How the backend defines a window (read from sigma/backends/sqlite/correlation.py): not fixed
buckets but one sliding window per match, anchored at that match's time t: [t - timespan, t],
both ends included (`BETWEEN`, and `RANGE BETWEEN timespan PRECEDING AND CURRENT ROW` for
event_count); the condition is evaluated for every such window after the fact; temporal_ordered
takes, per rule in order, the earliest match strictly later than the previous rule's.
Group keys (and value_count's values) are compared lowercased (ASCII); a match with a NULL
group-by field is dropped.

Ours evaluates, as each match arrives, the window ending at the newest event time seen in its
group: (newest - timespan, newest], the older end excluded. When events arrive in event-time
order per group, "newest" is the arriving match itself, so both evaluate the same windows and
the fired (rule, group) sets must agree; that holds too for events arriving out of order as long
as none of them is older than the group's newest minus the timespan. The scenarios of
`SCENARIOS` stay inside that common definition (no match exactly one timespan apart from the
last one of its window, no two ordered matches at the same instant, lowercase group values).
Where the definitions differ, `DIFFERENCES` pins each difference in its exact form (the
reference fires and we do not, or the reverse), so that a change on either side shows here:
- a match exactly `timespan` older than the newest is in the backend's window, not in ours;
- a late match older than the group's newest minus the timespan is dropped by our window (the
  stream cannot reopen a window it has moved past); the backend anchors a window at it;
- group and counted values differing only in case: ours keeps them apart, the backend folds them;
- temporal_ordered with both rules at the same instant: ours counts it as in order (entries of
  equal time keep the rules' order), the backend requires strictly later.
A temporal correlation of ours starts over once it fired, and a count keeps firing (the alert
is updated): neither changes which (rule, group) fired, which is what is compared.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule

from detectors.engine import Engine
from detectors.sigma.config import SigmaSettings
from detectors.sigma.mapping import pipeline_for, source_for
from detectors.sigma.stream import build
from detectors.sigma.view import RecordView
from detectors.state import DictStore
from tests.unit.detectors.sigma.helpers import FIXTURES
from tests.unit.detectors.sigma.reference import KEYWORDS, Reference
from tests.unit.detectors.sigma.test_correlation import BRUTE_FORCE, ORDERED, SPRAY, TEMPORAL, failure, key, policy

RULES = FIXTURES / "rules" / "cloudtrail_correlations.yml"
IP, OTHER_IP = "198.51.100.7", "203.0.113.9"
ARN = "arn:aws:iam::111122223333:user/{}"

Fired = set[tuple[str, tuple[str, ...]]]


def ours(events) -> Fired:
    detectors = build(SigmaSettings(rules_dirs=[RULES]), keep_original=True)
    engine = Engine(detectors=detectors, store=DictStore(), strict=True, lateness=timedelta(minutes=10))
    by_id = {det.meta.id: det for det, _ in engine.detectors}
    fired: Fired = set()
    for event in events:
        for alert in engine.process(event):
            group = by_id[alert.rule.id].key(event)
            fired.add((alert.rule.id, tuple(group.split("\x1f"))))
    return fired


def reference_queries() -> list[tuple[str, str]]:
    """(rule id as ours names it, the backend's correlation query) per correlation of the fixture."""
    out = []
    for rule in SigmaCollection.load_ruleset([RULES]).rules:
        logsource = (
            (rule.logsource.category, rule.logsource.product, rule.logsource.service)
            if not isinstance(rule, SigmaCorrelationRule)
            else None
        )
        if logsource is not None:
            backend = sqliteBackend(
                pipeline_for(source_for(logsource), {}), fulltext_field=KEYWORDS, timestamp_field="eventTime"
            )
            backend.convert_rule(rule)
        else:
            out.append((f"sigma-{rule.id}", backend.convert_correlation_rule(rule)))
    assert len(out) == 4
    return [(rule_id, query) for rule_id, (query,) in out]


QUERIES = reference_queries()


def reference(events) -> Fired:
    views = [RecordView.of_line(e.event.original) for e in events]
    table = Reference([(v.fields, v.keywords()) for v in views])
    fired: Fired = set()
    for rule_id, query in QUERIES:
        for row in table.select(query):
            fired.add((rule_id, tuple(str(v) for v in json.loads(row[1]).values())))
    return fired


def burst(minutes, ip=IP, user="alice"):
    return [failure(m, ip=ip, user=user) for m in minutes]


def bf(ip=IP):
    return BRUTE_FORCE, (ip,)


def spray(ip=IP):
    return SPRAY, (ip,)


def temporal(user="alice"):
    return TEMPORAL, (ARN.format(user),)


def ordered(user="alice"):
    return ORDERED, (ARN.format(user),)


SCENARIOS = {
    "brute force fires": (lambda: burst((0, 1, 2, 3, 4.5)), {bf()}),
    "five failures over more than the timespan": (lambda: burst((0, 2, 4, 6, 8)), set()),
    "one failure each from five IPs": (lambda: [failure(m, ip=f"198.51.100.{m}") for m in range(5)], set()),
    "one IP fires, the other does not": (lambda: burst((0, 1, 2, 3, 4)) + burst((0, 1, 2, 3), ip=OTHER_IP), {bf()}),
    "replayed out of order within the timespan": (lambda: burst((4, 3, 1, 2, 0)), {bf()}),
    "straddling the timespan, the later window fills": (lambda: burst((0, 1, 2, 3, 5.5, 5.9)), {bf()}),
    "straddling the timespan, no window fills": (lambda: burst((0, 1, 2, 3, 5.5, 6.5, 9)), set()),
    "spray of three users": (lambda: [failure(m, user=u) for m, u in ((0, "ann"), (4, "cid"), (9, "dee"))], {spray()}),
    "three users, more than the timespan apart": (
        lambda: [failure(m, user=u) for m, u in ((0, "ann"), (6, "cid"), (12, "dee"))],
        set(),
    ),
    "one user failing over and over": (lambda: burst((0, 1, 2), user="bob"), set()),
    "spray and brute force at once": (
        lambda: [failure(m, user=u) for m, u in ((0, "ann"), (1, "bob"), (2, "cid"), (3, "ann"), (4, "bob"))],
        {bf(), spray()},
    ),
    "temporal, policy first": (lambda: [policy(0), key(10)], {temporal()}),
    "temporal and ordered, key first": (lambda: [key(10), policy(12)], {temporal(), ordered()}),
    "temporal, out of the timespan": (lambda: [key(0, user="eve"), policy(30, user="eve")], set()),
    "temporal, two identities": (lambda: [key(0, user="fay"), policy(1, user="gus")], set()),
    "ordered, replayed out of order": (lambda: [policy(3), key(1)], {temporal(), ordered()}),
    "ordered, several identities": (
        lambda: [
            key(0, user="hal"),
            policy(2, user="ida"),
            key(4, user="ida"),
            policy(5, user="hal"),
            policy(40, user="ida"),
        ],
        {temporal("hal"), ordered("hal"), temporal("ida")},
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_same_correlations_fire_for_the_same_groups(name):
    make, expected = SCENARIOS[name]
    events = make()
    found = ours(events)
    assert found == reference(events), name
    assert found == expected, name  # and it is the outcome the scenario is about


DIFFERENCES = {
    # name: (events, what only the reference fires, what only ours fires)
    "a match exactly one timespan older is in the backend's window only": (
        lambda: burst((0, 1, 2, 3, 5)),
        {bf()},
        set(),
    ),
    "a match later than the group's window is dropped by ours": (lambda: burst((0, 1, 2, 3, 10, 4)), {bf()}, set()),
    "values differing in case are folded by the backend only": (
        lambda: [failure(m, user=u) for m, u in ((0, "ann"), (1, "Ann"), (2, "ANN"))],
        set(),
        {spray()},
    ),
    "ordered rules at one instant are in order for ours only": (lambda: [key(5), policy(5)], set(), {ordered()}),
}


@pytest.mark.parametrize("name", list(DIFFERENCES))
def test_where_the_window_definitions_differ_the_difference_is_exactly_the_documented_one(name):
    make, only_reference, only_ours = DIFFERENCES[name]
    events = make()
    found, expected = ours(events), reference(events)
    assert (expected - found, found - expected) == (only_reference, only_ours), name

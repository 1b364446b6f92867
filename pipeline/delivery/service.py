"""The send loop of delivery, Faust-free: flush due groups, send their outbox, record.

Stage 1 (alerts -> group entries on the notify topic, and the group store) is
`pipeline.delivery.outbox`. Stage 2, `Deliverer.process(items, store, now)`: a batch of
notify-topic messages (alerts and ticks) -> notifications sent (concurrently, per-receiver
limits) and the effects for the caller to write, in this order: history records, dead letters
and delivery_failed alerts, then the new group states (`commit`). State last: a crash in between
re-sends (same webhook-id) and re-records (same document ids) rather than leaving a state that
claims what no record shows. A new notification's state is made durable (`before_send`) before it
is first sent: a crash during the send re-sends that notification, not one rebuilt from a group
that grew in the replay (another webhook-id: a second page).

The caller acks a batch only after all of that; a notification leaves a group's outbox only once
the receiver accepted it or it was dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pipeline import deadletter, metrics
from pipeline.delivery import grouping, retry
from pipeline.delivery.config import DeliverySettings
from pipeline.delivery.history import NotificationRecord, action, utc
from pipeline.delivery.http import HttpClient
from pipeline.delivery.outbox import Effects, GroupStore, Item
from pipeline.delivery.receivers.base import Links, Notification
from pipeline.delivery.receivers.registry import renderer
from pipeline.delivery.routing import RoutingTree
from pipeline.delivery.silences import SilenceCache
from schemas.alert import Alert
from schemas.delivery import GroupState, NotifyEntry, NotifyTick, group_from_doc

log = logging.getLogger(__name__)
# writes the states of groups whose new notification is about to be sent for the first time, and
# returns once they are durable: a crash during the send then re-sends that very notification
# (same webhook-id), even if the group changed meanwhile. The batch's effects so far come along:
# their history records (silenced alerts, which those states mark muted) are made durable first
# and taken out of the effects, or a replay, retrying the outbox, would never record them again
BeforeSend = Callable[[dict[str, tuple[GroupState, int]], Effects], Awaitable[None]]


class Deliverer:
    """Stage 2: groups, silences, sending with retries, and the records of it all."""

    def __init__(
        self,
        cfg: DeliverySettings,
        tree: RoutingTree,
        session: HttpClient,
        prefix: str,
        notify_topic: str,
        silences: SilenceCache | None = None,
        before_send: BeforeSend | None = None,
    ) -> None:
        self.cfg, self.tree, self.session, self.prefix, self.topic = cfg, tree, session, prefix, notify_topic
        self.before_send = before_send
        self.silences = silences or SilenceCache()
        self.links = Links(cfg.kibana_url, cfg.kibana_data_view)
        self.breakers = {
            n: retry.CircuitBreaker(cfg.retry.breaker_failures, cfg.retry.breaker_cooldown_seconds)
            for n in cfg.receivers
        }
        self.limits = {n: asyncio.Semaphore(r.max_concurrency) for n, r in cfg.receivers.items()}
        self.failures: dict[tuple[str, float], int] = {}
        self._children: dict[tuple[Any, ...], Any] = {}  # labelled metrics, looked up once

    async def process(self, items: list[Item], store: GroupStore, now: float) -> Effects:
        """Fold a batch into the groups, flush what is due, send; return the effects to write."""
        effects = Effects()
        touched: dict[str, tuple[GroupState, int]] = {}
        ticked: set[int] = set()
        for item in items:
            if isinstance(item.value, NotifyTick):
                ticked.add(item.partition)
            else:
                self._fold(item.value, item.partition, store, touched, effects, now)
        if ticked:
            for key, state in store.due(ticked, now):
                if key not in touched:
                    touched[key] = (state, state["partition"])
        sending = [key for key, (state, p) in touched.items() if self._plan(key, state, p, effects, now)]
        fresh = {key: effects.states[key] for key in sending if touched[key][0]["outbox"] is None}
        if fresh and self.before_send is not None:  # a new notification: durable before it is sent
            await self.before_send(fresh, effects)  # type: ignore[arg-type]
        await asyncio.gather(*[self._keep_sent(key, effects) for key in sending])
        return effects

    def _fold(
        self,
        msg: NotifyEntry,
        partition: int,
        store: GroupStore,
        touched: dict[str, tuple[GroupState, int]],
        effects: Effects,
        now: float,
    ) -> None:
        if msg.blocked:
            self._record_suppressed(msg, effects, now)
            return
        key = msg.key
        if key in touched:
            state = touched[key][0]
        else:
            stored = store.get(key)
            if stored is None:
                state = grouping.new_group(key, msg.route, msg.receiver, msg.labels, msg.timing, partition, now)
            else:
                state = group_from_doc(stored)
        touched[key] = (grouping.add_alert(state, msg.alert, now), partition)

    def _plan(self, key: str, state: GroupState, partition: int, effects: Effects, now: float) -> bool:
        """Plan the group: keep its new state (or None) in the effects; True when its outbox is to
        be sent now (the planned state, outbox included, is then `effects.states[key]`)."""
        if state["due"] is None or state["due"] > now:
            effects.states[key] = (state, partition)
            return False
        plan = grouping.plan(state, now, self._silenced_by)
        for alert_id, silence_id in plan.silenced:
            self._record_silenced(plan.state, alert_id, silence_id, effects, now)
        effects.states[key] = (None if plan.expire else plan.state, partition)
        return plan.send is not None and not plan.expire

    async def _keep_sent(self, key: str, effects: Effects) -> None:
        planned, partition = effects.states[key]
        assert planned is not None  # _plan said it sends
        effects.states[key] = (await self._send(planned, partition, effects), partition)

    async def _send(self, state: GroupState, partition: int, effects: Effects) -> GroupState:
        """One attempt of the group's outbox notification (unless its receiver's circuit is open)."""
        box, name = grouping.outbox(state), state["receiver"]
        if name not in self.cfg.receivers:  # removed from the config while its groups were pending
            return self._conclude(
                state,
                None,
                retry.Outcome("permanent", error=f"receiver {name} is no longer configured"),
                partition,
                effects,
            )
        cfg, breaker = self.cfg.receivers[name], self.breakers[name]
        now = time.time()
        wait = breaker.allow(now)
        if wait is not None:  # circuit open: wait unattempted, unless the budget is spent
            if now - box["since"] <= self.cfg.retry.budget_seconds:
                return grouping.after_attempt(state, "deferred", now, wait)
            return self._conclude(
                state,
                None,
                retry.Outcome("retry", error=f"circuit {breaker.state} after repeated failures"),
                partition,
                effects,
            )
        async with self.limits[name]:
            try:
                built = renderer(cfg.kind)(_notification(state), cfg, self.links, time.time())
            except Exception as exc:  # a payload we cannot build will never succeed: dead-letter it
                request, outcome = None, retry.Outcome("permanent", error=f"cannot render: {exc}"[:300])
            else:
                request = built
                outcome = await retry.attempt(self.session, built, cfg.timeout_seconds or self.cfg.timeout_seconds)
        breaker.record(outcome.verdict != "retry", time.time())
        return self._conclude(state, request, outcome, partition, effects)

    def _conclude(
        self, state: GroupState, request, outcome: retry.Outcome, partition: int, effects: Effects
    ) -> GroupState:
        """Decide retry / done / dead letter for an attempt's outcome and record it."""
        box, now = grouping.outbox(state), time.time()
        attempt = box["attempt"] + 1
        step, next_at = retry.next_step(outcome, attempt, box["since"], now, self.cfg.retry)
        self._record_attempt(state, attempt, outcome, step, next_at, effects, now)
        if step == "dead_letter":
            self._give_up(state, request.body if request else b"", outcome, attempt, partition, effects, now)
        effects.sent += 1
        return grouping.after_attempt(state, "retry" if step == "retry" else step, now, next_at)

    def _silenced_by(self, doc: dict[str, Any]) -> str | None:
        if not self.silences.silences:
            return None
        return self.silences.silenced_by(self.tree.labels(Alert.model_validate(doc)), time.time())

    def _record_attempt(
        self,
        state: GroupState,
        attempt: int,
        outcome: retry.Outcome,
        step: str,
        next_at: float | None,
        effects: Effects,
        now: float,
    ) -> None:
        box, name = grouping.outbox(state), state["receiver"]
        result = "failed" if step == "dead_letter" and outcome.verdict == "permanent" else step
        self._metric(metrics.NOTIFICATION_SECONDS, name).observe(outcome.latency)
        if step == "retry":
            self._metric(metrics.NOTIFICATION_RETRIES, name).inc()
        else:
            self._metric(metrics.NOTIFICATIONS, name, result).inc()
        ids = list(box["versions"])[: grouping.MAX_NOTIFY_ALERTS]
        record = NotificationRecord(
            timestamp=utc(now),
            kind="attempt",
            outcome=result,
            receiver=name,
            receiver_kind=self._kind(name),
            route=state["route"],
            group_key=state["key"],
            notification_id=box["id"],
            attempt=attempt,
            status_code=outcome.status,
            latency_ms=round(outcome.latency * 1000, 3),
            error=outcome.error,
            next_attempt_at=utc(next_at) if next_at else None,
            alert_ids=ids,
            alert_counts=[box["versions"][i][0] for i in ids],
            rule_ids=sorted({d["rule"]["id"] for d in box["docs"]}),
        )
        effects.history.append(action(self.prefix, record, day=utc(box["created"])))
        if step != "delivered":
            log.warning(
                "notification %s to %s attempt %d: %s (%s)%s",
                box["id"],
                name,
                attempt,
                result,
                outcome.error,
                f"; retry at {utc(next_at):%H:%M:%S}" if next_at else "",
            )

    def _give_up(
        self,
        state: GroupState,
        body: bytes,
        outcome: retry.Outcome,
        attempts: int,
        partition: int,
        effects: Effects,
        now: float,
    ) -> None:
        """Dead-letter the notification and raise (or update) the delivery_failed alert."""
        name, box = state["receiver"], grouping.outbox(state)
        reason = f"notification {box['id']} to receiver {name} given up after {attempts} attempt(s): {outcome.error}"
        effects.dead_letters.append(deadletter.of_body(body, "internal_error", reason, now, self.topic, partition))
        if all(d["rule"]["id"] == retry.FAILURE_RULE.id for d in box["docs"]):
            log.error("%s; not raising delivery_failed about a delivery_failed alert (no loops)", reason)
            return
        window = now - now % retry.FAILURE_WINDOW_SECONDS
        count = self.failures.get((name, window), 0) + 1
        self.failures = {k: v for k, v in self.failures.items() if k[1] == window} | {(name, window): count}
        effects.alerts.append(retry.failure_alert(name, f"{outcome.error} (after {attempts} attempts)", now, count))

    def _record_silenced(self, state: GroupState, alert_id: str, silence_id: str, effects: Effects, now: float) -> None:
        name = state["receiver"]
        doc = state["alerts"][alert_id]
        metrics.NOTIFICATIONS.labels(receiver=name, outcome="silenced").inc()
        record = NotificationRecord(
            timestamp=utc(now),
            kind="silenced",
            outcome="silenced",
            receiver=name,
            receiver_kind=self._kind(name),
            route=state["route"],
            group_key=state["key"],
            silence_id=silence_id,
            alert_ids=[alert_id],
            alert_counts=[doc["count"]],
            rule_ids=[doc["doc"]["rule"]["id"]],
        )
        effects.history.append(action(self.prefix, record))

    def _record_suppressed(self, msg: NotifyEntry, effects: Effects, now: float) -> None:
        name, alert = msg.receiver, msg.alert
        metrics.NOTIFICATIONS.labels(receiver=name, outcome="suppressed").inc()
        record = NotificationRecord(
            timestamp=utc(now),
            kind="suppressed",
            outcome="suppressed",
            receiver=name,
            receiver_kind=self._kind(name),
            route=msg.route,
            group_key=msg.key,
            error=f"{msg.blocked} detector: never sent to a paging receiver",
            alert_ids=[alert["alert"]["id"]],
            alert_counts=[alert["alert"]["count"]],
            rule_ids=[alert["rule"]["id"]],
        )
        effects.history.append(action(self.prefix, record))

    def _metric(self, family: Any, *labels: str) -> Any:
        """The child of a metric family for these label values (receiver names and outcomes: bounded)."""
        child = self._children.get((family, *labels))
        if child is None:
            child = self._children[(family, *labels)] = family.labels(*labels)
        return child

    def _kind(self, receiver: str) -> str:
        cfg = self.cfg.receivers.get(receiver)
        return cfg.kind if cfg else "unknown"


def _notification(state: GroupState) -> Notification:
    box = grouping.outbox(state)
    return Notification(
        id=box["id"],
        receiver=state["receiver"],
        route=state["route"],
        group_key=state["key"],
        group_labels=state["labels"],
        status=box["status"],
        docs=box["docs"],
        changed=box["changed"],
        truncated=box["truncated"],
        created=box["created"],
    )

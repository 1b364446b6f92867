"""The step every anomaly detector shares: observe, learn or score, explain, and decide how loud.

An event is scored only once its entity's profile has `min_history` events. A score above the
low threshold (`low_per_1k` of the training events) is a low-severity finding: evidence in
Elasticsearch for analysts. It pages (high) only above the alert threshold (`alerts_per_1k`)
*and* with strong signals in at least two aspects (where, when, device, how): one unusual thing
alone (a trip, a new phone, a late night) is never enough, several together are.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from detectors.anomaly.behaviour import Behaviour, Observation
from detectors.anomaly.model import AnomalyModel
from detectors.anomaly.slot import LearnPolicy, ModelSlot
from detectors.base import Entity, Finding, State, StepFn
from schemas.alert import AnomalyDetails
from schemas.event import Event

EntityOf = Callable[[Event], Entity]  # what an alert of the event is about


class AnomalyParams(BaseModel):
    """Alert budget, maturity of a profile, and how a detector without a model file learns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alerts_per_1k: float = Field(
        1.0,
        gt=0,
        le=1000,
        description="Alert budget: scored events per 1,000 of the "
        "training set above the paging threshold (pages need two strong signals too).",
    )
    low_per_1k: float = Field(5.0, gt=0, le=1000, description="Low-severity evidence budget per 1,000 scored events.")
    min_history: int = Field(5, ge=0, description="Events an entity's profile needs before its events are scored.")
    learn_days: float = Field(
        7.0, ge=0, description="Without a model file: days of event time learned before scoring starts."
    )
    learn_min_samples: int = Field(200, ge=20, description="Without a model file: vectors needed to fit.")
    relearn_days: float = Field(7.0, gt=0, description="Without a model file: refit on the latest vectors this often.")
    forget_days: float = Field(
        90.0,
        gt=0,
        description="A profile idle this long is dropped (state stays bounded); "
        "the entity then needs min_history events again.",
    )
    _slot: ModelSlot | None = PrivateAttr(None)

    def slot(self, behaviour: Behaviour) -> ModelSlot:
        """The models this detector scores with (a learner of its own until a runtime installs a model)."""
        # read from pydantic's private dict: `self._slot` goes through BaseModel.__getattr__ (~6 us, per event)
        private = self.__pydantic_private__
        slot: ModelSlot | None = private["_slot"] if private is not None else self._slot
        if slot is None:
            policy = LearnPolicy(
                days=self.learn_days, min_samples=self.learn_min_samples, relearn_days=self.relearn_days
            )
            slot = self._slot = ModelSlot(behaviour, policy)
        return slot


def forget_after(params: AnomalyParams) -> float:
    """How long an idle profile is kept (the detectors' ttl), in seconds."""
    return params.forget_days * 86400


def make_step(behaviour: Behaviour, entity_of: EntityOf) -> StepFn:
    """The step of an anomaly detector over `behaviour`; `entity_of(event)` names the alert's entity."""

    def step(state: State | None, event: Event, params: AnomalyParams) -> tuple[State | None, list[Finding]]:
        slot = params.slot(behaviour)
        state, obs = behaviour.observe(state, event, slot.peers)
        if obs is None:
            return state, []
        mature = obs.history >= params.min_history
        findings: list[Finding] = []
        if mature and slot.live is not None:
            findings += _judge(slot.live, obs, event, params, entity_of, None, behaviour)
        if mature and slot.shadow is not None:
            findings += _judge(slot.shadow, obs, event, params, entity_of, "shadow", behaviour)
        slot.learn(obs.vector if mature else (), obs.peer_values, event.timestamp.timestamp())
        return state, findings

    return step


def _judge(
    model: AnomalyModel,
    obs: Observation,
    event: Event,
    params: AnomalyParams,
    entity_of: EntityOf,
    variant: str | None,
    behaviour: Behaviour,
) -> list[Finding]:
    score = model.score(obs.vector)
    low = model.threshold(params.low_per_1k)
    if score <= low:
        return []
    threshold = model.threshold(params.alerts_per_1k)
    features = model.explain(obs.vector, obs.facts())
    aspects = {behaviour.groups.get(name, name) for name in model.strong(obs.vector)}
    paging = score > threshold and len(aspects) >= 2
    why = "; ".join(f"{f.name.replace('_', ' ')}: {f.value} (usual {f.usual})" for f in features[:3])
    message = (
        f"unusual {behaviour.describe(event)}: anomaly score {score:.2f} "
        f"(pages above {threshold:.2f}) - {why or 'no single feature stands out'}"
    )
    details = AnomalyDetails(score=score, threshold=threshold, model_version=model.version, features=features)
    return [
        Finding(
            message=message,
            entity=entity_of(event),
            timestamp=event.timestamp,
            event_ids=(event.event.id,),
            datasets=(event.event.dataset,),
            severity="high" if paging else "low",
            maturity="experimental" if variant else None,
            variant=variant,
            anomaly=details,
        )
    ]

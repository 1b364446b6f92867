"""Context tables -> `secmon.context`: who the user is, what the host is, whether a staff access is justified.

Detectors are pure and never query the store, so this enricher attaches the facts they read:
the user's row (employee, team, role, MFA policy, working hours, usual volume), the host's asset
row (owner, environment, criticality, 2FA) and, for staff accesses (`staff.access`), whether a
ticket of that employee is valid for that workspace at the event's time. Whatever was looked up
and not found is named in `secmon.context.missing` (`user`, `user.working_hours`, `asset`,
`workspace`, `tickets` when no ticket table is loaded), so missing context is visible, never a crash and never
silently read as "no ticket". With no table loaded at all, context is not configured and events
are left as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from pipeline.context.models import TicketRow, UserRow
from pipeline.context.store import ContextStore
from pipeline.enrichers.base import Enricher
from schemas.event import ContextFacts, Event, TicketProblem

if TYPE_CHECKING:
    from pipeline.settings import EnrichSettings

STAFF_DATASET = "staff.access"


def find_user(store: ContextStore, event: Event) -> UserRow | None:
    """The users row of the event's user: by name or e-mail, else by id."""
    user = event.user
    row = store.user_by_name(user.name) if user and user.name else None
    if row is None and user and user.id:
        row = store.user_by_id(user.id)
    return row


def ticket_problem(ticket: TicketRow | None, names: set[str], workspace: str, event: Event) -> TicketProblem | None:
    """Why a cited ticket does not justify this access, or None when it does."""
    if ticket is None:
        return "unknown"
    if ticket.employee.lower() not in names:
        return "other_employee"
    if ticket.workspace != workspace:
        return "other_workspace"
    if event.timestamp < ticket.valid_from:
        return "not_yet_valid"
    if event.timestamp > ticket.valid_to:
        return "expired"
    return None


def check_ticket(
    store: ContextStore, event: Event, user: UserRow | None
) -> tuple[bool, str | None, TicketProblem | None]:
    """(justified, the justifying ticket id, the problem of the cited ticket) for a staff access.

    The cited ticket counts only when it exists, is the employee's and covers this workspace and
    time; any other valid ticket of the employee for the workspace also justifies the access.
    """
    workspace = event.organization.id if event.organization and event.organization.id else ""
    names = {n.lower() for n in (event.user.name, event.user.id) if n} if event.user else set()
    if user is not None:
        names |= {n.lower() for n in (user.name, user.email, user.id) if n}
    cited = event.secmon.staff_access.ticket_id if event.secmon.staff_access else None
    problem = ticket_problem(store.ticket(cited), names, workspace, event) if cited else None
    if cited and problem is None:
        return True, cited, None
    valid = store.tickets_for(names, workspace, event.timestamp) if workspace else []
    return (True, valid[0].id, problem) if valid else (False, None, problem)


def context_of(store: ContextStore, event: Event) -> ContextFacts | None:
    """The facts and missing lookups for one event (None when it names no user or host)."""
    user = event.user
    host = event.host.name if event.host and event.host.name else None
    staff = event.event.dataset == STAFF_DATASET
    if not (user and (user.name or user.id)) and host is None and not staff:
        return None
    known, missing = ContextFacts(), []
    row = find_user(store, event) if user and (user.name or user.id) else None
    if user and (user.name or user.id):
        if row is None:
            missing.append("user")
        else:
            _user_facts(known, row)
            if staff and row.working_hours is None:
                missing.append("user.working_hours")
    workspace = event.organization.id if event.organization and event.organization.id else None
    if workspace is not None and store.loaded("workspaces"):
        ws_row = store.workspace(workspace)
        if ws_row is None:
            missing.append("workspace")
        else:
            known.workspace_app_mfa_required = ws_row.app_mfa_required
    if host is not None:
        asset = store.asset_by_host(host)
        if asset is None:
            missing.append("asset")
        else:
            known.asset_owner, known.asset_environment = asset.owner, asset.environment
            known.asset_criticality, known.asset_requires_2fa = asset.criticality, asset.requires_2fa
    if staff:
        if store.loaded("tickets"):
            known.ticket_valid, known.ticket_id, known.ticket_problem = check_ticket(store, event, row)
        else:
            missing.append("tickets")
    known.missing = missing
    return known


def _user_facts(known: ContextFacts, row: UserRow) -> None:
    known.user_employee, known.user_team, known.user_role = row.employee, row.team, row.role
    known.user_team_admin, known.user_mfa_required = row.team_admin, row.mfa_required
    known.user_working_hours, known.user_timezone = row.working_hours, row.timezone
    known.user_working_days = row.working_days  # None: the detector's default days apply
    known.user_usual_daily_records = row.usual_daily_records


def apply(store: ContextStore, event: Event) -> None:
    """Fill `secmon.context` from the store (reloading changed files first, at most every few seconds)."""
    store.maybe_reload()
    if not store.any_loaded():
        return
    known = context_of(store, event)
    if known is not None:
        event.secmon.context = known


class ContextEnricher(Enricher):
    """The context enricher; its stamp follows the rows in use (`context@<digest>`)."""

    store: ContextStore

    def __init__(self, store: ContextStore):
        super().__init__(name="context", version=store.version, apply=partial(apply, store))
        object.__setattr__(self, "store", store)  # Enricher is frozen; set once, here

    @property
    def stamp(self) -> str:
        """`context@<digest of the rows in use now>`."""
        return f"{self.name}@{self.store.version}"


def build(settings: EnrichSettings, store: ContextStore | None = None) -> ContextEnricher | None:
    """The context enricher over `store`, else over `enrich.context_dir`; None when neither is given."""
    if store is None:
        if settings.context_dir is None:
            return None
        store = ContextStore(settings.context_dir)
    return ContextEnricher(store)


def find(enrichers: Iterable[Enricher]) -> ContextEnricher | None:
    """The context enricher among `enrichers`, if one was built."""
    return next((e for e in enrichers if isinstance(e, ContextEnricher)), None)

"""Sign-out pieces without services: who may, request ids, the signed request, the control event."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from pipeline.delivery.receivers import session_revocation
from pipeline.delivery.receivers.webhook import sign
from pipeline.normalizers.base import ParseOptions, RawRecord
from pipeline.normalizers.control import parse as parse_control
from pipeline.service.actions import control_event
from pipeline.service.auth import Caller
from pipeline.service.signout import SignoutStatus, may_see, may_sign_out, request_id
from schemas.event import Origin

AT = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
ACTION = {
    "kind": "signout_all",
    "request_id": "r" * 32,
    "workspace": "ws1",
    "user": "u2",
    "actor": "admin1",
    "requested_at": AT.isoformat(),
}


def test_who_may_sign_out_whom() -> None:
    admin, member = Caller("admin1", roles={"ws1": "admin"}), Caller("u2", roles={"ws1": "member"})
    assert may_sign_out(admin, "ws1", "u2") and may_sign_out(member, "ws1", "u2")
    assert not may_sign_out(member, "ws1", "u3") and not may_sign_out(admin, "ws2", "u2")
    assert not may_sign_out(Caller("u2"), "ws1", "u2")  # not a member of ws1
    status = SignoutStatus(
        request_id="r" * 32, workspace="ws1", user="u2", actor="admin1", requested_at=AT, status="requested"
    )
    assert (
        may_see(member, status)
        and may_see(admin, status)
        and not may_see(Caller("u9", roles={"ws1": "member"}), status)
    )


def test_request_ids_are_stable_per_key_and_caller() -> None:
    assert request_id("a", "ws", "u", "k") == request_id("a", "ws", "u", "k") != request_id("b", "ws", "u", "k")
    assert request_id("a", "ws", "u", None) != request_id("a", "ws", "u", None)


def test_revocation_request_is_signed_and_identical_across_attempts() -> None:
    first = session_revocation.render(ACTION, "https://app.example/revoke", b"key", 1000.0)
    later = session_revocation.render(ACTION, "https://app.example/revoke", b"key", 1060.0)
    assert first.body == later.body and first.headers["webhook-id"] == ACTION["request_id"]
    assert first.headers["webhook-signature"] == sign(ACTION["request_id"], 1000, first.body, b"key")
    assert json.loads(first.body)["data"]["user"] == "u2"


def test_control_event_is_what_the_control_normalizer_reads() -> None:
    status = SignoutStatus.model_validate({**ACTION, "status": "delivered"})
    line = json.dumps(control_event(status, AT)).encode()
    (event,) = parse_control(
        RawRecord(data=line, origin=Origin(source="control", file_id="x", offset=0)), ParseOptions()
    )
    assert (event.event.action, event.user.name, event.user.target.name) == ("signout_all_executed", "admin1", "u2")

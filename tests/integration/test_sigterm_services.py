"""SIGTERM stops the shipper cleanly: exit 0, its read position saved, nothing re-sent on a restart.

(`secmon run` and `secmon actions` under SIGTERM: tests/unit/pipeline/test_sigterm.py and
test_signout_all.py; the Faust worker's own handler is exercised by every Stack teardown.)
"""

from __future__ import annotations

import os
import signal

from pipeline.shipper_positions import PositionStore
from tests.integration.conftest import wait_for
from tests.integration.test_shipper import append, raw_records


def test_sigterm_stops_a_following_shipper_with_its_position_saved(stack):
    log = stack.workdir / "app.log"
    append(log, 0, 200)
    assert stack.secmon("topics").returncode == 0
    shipper = stack.start("ship", "--source", "app_signin", str(log), log_name="ship")  # follows the file
    store = PositionStore(stack.workdir / "shipper-state")

    def at_end() -> bool:
        saved = store.load(str(log))
        return saved is not None and saved.offset == log.stat().st_size

    wait_for(at_end, 90, 0.2, "the shipper saved the position of the file's end")
    assert len(raw_records(f"{stack.prefix}-raw-app_signin", want=200)) == 200
    os.killpg(shipper.pid, signal.SIGTERM)
    assert shipper.wait(30) == 0  # README, Exit codes: the shipper's own handler stops it cleanly
    assert "Traceback" not in (stack.workdir / "ship.log").read_text()

    append(log, 200, 230)
    again = stack.secmon("ship", "--once", "--source", "app_signin", str(log))
    assert again.returncode == 0, again.stderr
    assert len(raw_records(f"{stack.prefix}-raw-app_signin", want=230)) == 230  # only the 30 new lines

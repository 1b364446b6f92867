"""`secmon worker` with the end of Faust's table recovery slowed down: fault injection for tests.

When Faust has read the changelogs it pauses every partition, then resumes the streams in
`Recovery.on_recovery_completed`. A busy event loop makes that gap long; this makes it
`seconds` long every time, so what happens in it (tests/integration/test_restart_recovery.py)
happens on every run instead of on a loaded CI machine now and then. Nothing else changes.

    python -m tests.integration.slow_recovery <seconds> worker
"""

from __future__ import annotations

import asyncio
import sys

from faust.tables.recovery import Recovery

from pipeline.cli import main


def slow_down(seconds: float) -> None:
    original = Recovery.on_recovery_completed

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        await asyncio.sleep(seconds)  # every partition is paused here, the fetch still runs
        await original(self, generation_id)

    Recovery.on_recovery_completed = on_recovery_completed  # type: ignore[method-assign]


if __name__ == "__main__":
    slow_down(float(sys.argv[1]))
    sys.exit(main(sys.argv[2:]))

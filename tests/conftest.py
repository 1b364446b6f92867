"""How scripts/test.sh splits the suite over pytest-xdist workers (`-n 3 --dist loadfile`).

A module runs whole on one worker, in file order, so its module-scoped fixtures (trained models,
parsed corpora) are built once. Modules that share a file of the repository are one unit too:
test_readme_commands runs `python -m pipeline.dashboards`, which rewrites dashboards/*.ndjson
while test_objects would be reading them. (xdist's `loadgroup` marks cannot do this on pytest 9:
the node id they rewrite is read-only there.) Without xdist nothing here is used.
"""

from __future__ import annotations

import pytest

# modules that must run on the same worker, one after the other: what they share
SHARED = {
    "tests/unit/test_readme_commands.py": "dashboards-ndjson",  # rewrites dashboards/*.ndjson
    "tests/unit/dashboards/test_objects.py": "dashboards-ndjson",  # reads them
}


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModulesAndSharedFiles(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return SHARED.get(module, module)

    return ModulesAndSharedFiles(config, log)

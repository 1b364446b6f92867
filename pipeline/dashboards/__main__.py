"""`python -m pipeline.dashboards`: rewrite `dashboards/*.ndjson` from the descriptions."""

import sys

from pipeline.dashboards import write

for written in write():
    print(written, file=sys.stderr)

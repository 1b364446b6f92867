"""`python -m pipeline` == the `secmon` command."""

import sys

from pipeline.cli import main

sys.exit(main())

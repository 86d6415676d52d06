"""`python -m serosurv ...` is the `serosurv` command (e.g. under a profiler: `python -m pyinstrument -m serosurv run ...`)."""

import sys

from serosurv.cli import main

if __name__ == "__main__":
    sys.exit(main())

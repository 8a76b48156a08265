"""``python -m bench [--quick] [--out DIR]``: see bench/run.py and bench/README.md."""

import sys

from bench.run import main

if __name__ == "__main__":  # guarded: the seeding processes (multiprocessing, spawn) re-import this module
    sys.exit(main())

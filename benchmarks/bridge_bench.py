"""The bridge benchmark on its own (it is also part of ``python -m mapioffline bench``):

    python benchmarks/bridge_bench.py [--quick] [--json FILE]

See mapioffline/bench/bridge.py for what is measured and how."""

import sys

from mapioffline.bench.bridge import main

if __name__ == "__main__":
    sys.exit(main())

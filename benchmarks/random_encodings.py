#!/usr/bin/env python3
"""Run the hypothesis A32-vs-unicorn differential test at benchmark scale.

    python3 benchmarks/random_encodings.py [N]      (default 100000 cases)

CI runs 3000 cases; this runs N (about 2 ms a case on one core) and prints the
throughput.  Needs the test extra (unicorn, hypothesis).
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    env = dict(os.environ, TCGLAB_DIFF_EXAMPLES=str(n))
    start = time.perf_counter()
    status = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              "tests/arm/test_diff_unicorn.py", "-k", "random_encodings"],
                             cwd=ROOT, env=env)
    seconds = time.perf_counter() - start
    print(f"{n} random A32 encodings against unicorn in {seconds:.1f} s "
          f"({n / seconds:.0f} cases/s): {'all agree' if status == 0 else 'MISMATCH'}")
    return status


if __name__ == "__main__":
    sys.exit(main())

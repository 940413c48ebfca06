"""The plain per-network reference loop (the speed benchmarks' peer).

It lives in ``cbreservoir.experiments.reference``.

Usage::

    python benchmarks/reference_loop.py --networks 8 --steps 10 --n 5
"""

from cbreservoir.experiments.reference import main

if __name__ == "__main__":
    main()

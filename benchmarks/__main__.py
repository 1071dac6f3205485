"""``python -m benchmarks``: the speed and memory benchmarks (see benchmarks/speed.py)."""

from benchmarks.speed import main

main()

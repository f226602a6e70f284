"""Run every benchmark module (``bench_*.py``) and print its report; ``-k NAME`` selects some."""

import argparse
import importlib
import pkgutil

import benchmarks

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("-k", default="", help="substring of the benchmark module names to run")
args = parser.parse_args()
for info in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda m: m.name):
    if info.name.startswith("bench_") and args.k in info.name:
        print(f"== {info.name}")
        importlib.import_module(f"benchmarks.{info.name}").main()

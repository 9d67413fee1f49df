"""Run every kerasx benchmark against its anchor and print one table.

Each `bench_<topic>.py` module runs in a fresh interpreter of its own (so one benchmark's
TensorFlow state, threads or memory cannot skew another's), and inside it kerasx and the anchor
are measured side by side, interleaved, as medians of several runs.

Usage:
    python benchmarks/run.py                 # every benchmark, full size
    python benchmarks/run.py --quick         # smaller sizes, for a quick look
    python benchmarks/run.py io data         # only bench_io.py and bench_data.py
    python benchmarks/run.py --json out.json # also write the rows as JSON

Exit status: 0 when every row meets its goal, 1 otherwise (2 when a benchmark crashed).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import Row, format_table  # noqa: E402


def discover(names: list[str]) -> list[Path]:
    modules = sorted(HERE.glob("bench_*.py"))
    if names:
        wanted = {f"bench_{name.removeprefix('bench_').removesuffix('.py')}.py" for name in names}
        unknown = wanted - {m.name for m in modules}
        if unknown:
            have = [m.name for m in modules]
            raise SystemExit(f"unknown benchmark(s): {sorted(unknown)}; have {have}")
        modules = [m for m in modules if m.name in wanted]
    return modules


def worker(path: Path, quick: bool) -> None:
    """Import one benchmark module, run it and print its rows as JSON on the last line."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.run(quick=quick)
    print("KERASX-ROWS " + json.dumps([row.as_dict() for row in rows]))


def machine() -> str:
    cores = os.cpu_count()
    try:
        import tensorflow as tf

        tf_version = tf.__version__
    except ImportError:  # pragma: no cover
        tf_version = "not installed"
    return (
        f"{platform.machine()}, {cores} cores, Python {platform.python_version()}, "
        f"TensorFlow {tf_version}, {platform.system()} {platform.release()}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--json", metavar="PATH", help="also write the rows to PATH as JSON")
    parser.add_argument("--worker", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.worker), args.quick)
        return 0

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    rows: list[Row] = []
    crashed: list[str] = []
    start = time.perf_counter()
    for path in discover(args.names):
        command = [sys.executable, str(HERE / "run.py"), "--worker", str(path)]
        if args.quick:
            command.append("--quick")
        print(f"running {path.name} ...", file=sys.stderr, flush=True)
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        lines = [line for line in result.stdout.splitlines() if line.startswith("KERASX-ROWS ")]
        if result.returncode != 0 or not lines:
            crashed.append(path.name)
            print(f"{path.name} failed:\n{result.stderr[-3000:]}", file=sys.stderr)
            continue
        rows.extend(Row(**row) for row in json.loads(lines[-1].removeprefix("KERASX-ROWS ")))
    seconds = time.perf_counter() - start
    print(f"Machine: {machine()}; total {seconds:.0f} s{' (quick)' if args.quick else ''}\n")
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps([r.as_dict() for r in rows], indent=2) + "\n")
    if crashed:
        print(f"\ncrashed: {', '.join(crashed)}", file=sys.stderr)
        return 2
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Micro-benchmark of the stage phase's CPU per row, in one process, without a database:

(a) the job's side: read, decode and parse N rows of the bench feed into the `(line, values)`
    tuples of a part (`iter_csv` + `values_of`, as `IngestJob._stage` does), and encode the parts
    as they are sent to a validation worker (`encode_part`; a plain pickle before it existed);
(b) a worker's side: decode a part (`decode_part`, or unpickle) and `RowValidator.part` over the
    same rows in parts of 2,500 (normalise, COPY line, content hash, protection of the legal
    representative's id number).

    .venv/bin/python bench/ingest/validate_bench.py                       # 200,000 rows, best of 3
    .venv/bin/python bench/ingest/validate_bench.py --rows 50000 --repeat 5
    .venv/bin/python bench/ingest/validate_bench.py --profile worker      # cProfile of (b)

The feed is `bench/out/full-1000000.gbk.csv` (GB18030, the nightly layout) when it exists, else a
feed of `--rows` rows written by the simulator into `bench/out/`. Figures are µs per row, best of
`--repeat` runs (the machine is shared; the best run is the least disturbed one).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import pathlib
import pickle
import pstats
import sys
import time
from collections.abc import Callable

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.kit.pii import PiiProtector  # noqa: E402
from services.sharing.feeds.mapping import load_mapping  # noqa: E402
from services.sharing.feeds.readers import open_file_feed  # noqa: E402
from services.sharing.ingest import validate  # noqa: E402
from services.sharing.ingest.validate import Part, RowValidator, values_of  # noqa: E402
from services.sharing.simulator.generate import Registry, write_feed  # noqa: E402

PART = 2_500
TODAY = dt.date(2026, 11, 28)


def feed_path(rows: int) -> pathlib.Path:
    full = ROOT / "bench" / "out" / "full-1000000.gbk.csv"
    if full.exists():
        return full
    path = ROOT / "bench" / "out" / f"validate-bench-{rows}.gbk.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_feed(path, Registry(seed=1, size=rows).full(0), encoding="gb18030")
    return path


def read_parts(path: pathlib.Path, rows: int) -> list[Part]:
    """What the job does per row before a part goes to a worker (service.py `_stage`)."""
    mapping = load_mapping("samr")
    feed = open_file_feed(path, mapping)
    parts: list[Part] = []
    good: Part = []
    n = 0
    try:
        for row in feed.rows:
            n += 1
            if row.get is not None:
                good.append((row.line, values_of(row.get)))
                if len(good) >= PART:
                    parts.append(good)
                    good = []
            if n >= rows:
                break
    finally:
        feed.close()
    if good:
        parts.append(good)
    return parts


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", choices=("parent", "worker"), help="print a cProfile of one side instead")
    args = parser.parse_args()
    path = feed_path(args.rows)
    validator = RowValidator(load_mapping("samr"), PiiProtector.from_secret("bench-validate-secret"), TODAY)
    parts = read_parts(path, args.rows)
    rows = sum(len(p) for p in parts)

    def validate_all() -> None:
        for p in parts:
            validator.part(p)

    if args.profile:
        prof = cProfile.Profile()
        prof.runcall(validate_all if args.profile == "worker" else lambda: read_parts(path, args.rows))
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        return

    encode: Callable[[Part], bytes] = getattr(validate, "encode_part", None) or (
        lambda p: pickle.dumps(p, protocol=pickle.HIGHEST_PROTOCOL))
    decode: Callable[[bytes], object] = getattr(validate, "decode_part", None) or pickle.loads
    frames = [encode(p) for p in parts]
    parse = best_of(args.repeat, lambda: read_parts(path, args.rows))
    sent = best_of(args.repeat, lambda: [encode(p) for p in parts])

    def receive_all() -> None:
        for f in frames:  # one part at a time, as a worker does (holding them all would add collector work)
            decode(f)

    received = best_of(args.repeat, receive_all)
    work = best_of(args.repeat, validate_all)
    staged = sum(validator.part(p)[1] for p in parts)
    print(f"{path.name}: {rows:,} rows ({staged:,} staged), best of {args.repeat}")
    print(f"(a) job: read + parse             {parse / rows * 1e6:6.2f} µs/row")
    print(f"    job: encode parts for workers {sent / rows * 1e6:6.2f} µs/row")
    print(f"(b) worker: decode parts          {received / rows * 1e6:6.2f} µs/row")
    print(f"    worker: RowValidator.part     {work / rows * 1e6:6.2f} µs/row")


if __name__ == "__main__":
    main()

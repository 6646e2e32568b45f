"""Throughput and peak memory of translating Parquet at scale.

Cases (each run in its own child process, so its peak resident memory is its own):

- ``ceiling``: a bare pyarrow read (``iter_batches``), numpy matmul and pyarrow write
  of the same rows, no project code;
- ``translate``: ``vecbridge translate MAP IN.parquet -o OUT.parquet`` (streaming, resumable);
- ``lancedb``: ``migrate_lancedb`` of a table holding the same rows into a new table
  (the table is loaded beforehand, by the parent, and not counted);
- ``ray``: ``vecbridge.distributed.ray_data.translate_parquet`` on a local Ray
  cluster (``num_cpus`` = the machine's cores; Ray start-up included).

Usage::

    python benchmarks/throughput.py --rows 1000000 --dims 384 768 --doc
    python benchmarks/throughput.py --rows 200000 --dims 384 --cases ceiling translate

The map is a least-squares d -> d map with a bias. Rows are random float32.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
BATCH = 65536


def make_input(path: Path, rows: int, dim: int, seed: int = 0) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    schema = pa.schema([("id", pa.string()), ("vector", pa.list_(pa.float32(), dim))])
    with pq.ParquetWriter(str(path), schema, compression="none") as w:
        for s in range(0, rows, BATCH):
            n = min(BATCH, rows - s)
            X = rng.standard_normal((n, dim), dtype=np.float32)
            ids = pa.array([f"doc-{i}" for i in range(s, s + n)])
            w.write_table(pa.Table.from_arrays([ids, pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1)), dim)],
                                               schema=schema))


def make_map(path: Path, dim: int) -> None:
    from vecbridge.translators.linear import LeastSquares

    rng = np.random.default_rng(1)
    X = rng.standard_normal((4 * dim, dim)).astype(np.float32)
    Y = X @ rng.standard_normal((dim, dim)).astype(np.float32) + 0.5
    LeastSquares(bias=True).fit(X, Y).save(path, overwrite=True)


# -- the cases, run in a child -------------------------------------------------------------
def case_ceiling(inp: str, out: str, map_dir: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from safetensors.numpy import load_file

    w = load_file(str(Path(map_dir) / "weights.safetensors"))
    W, b = w["W_"], w["b_"]
    pf = pq.ParquetFile(inp, pre_buffer=False)  # pre-buffering would keep the whole file in memory
    d_out = W.shape[1]
    schema = pa.schema([("id", pa.string()), ("vector", pa.list_(pa.float32(), d_out))])
    with pq.ParquetWriter(out, schema, compression="none") as writer:
        for batch in pf.iter_batches(batch_size=BATCH):
            col = batch.column(1)
            X = col.values.to_numpy().reshape(len(col), -1)
            Y = X @ W + b
            vec = pa.FixedSizeListArray.from_arrays(pa.array(Y.reshape(-1)), d_out)
            writer.write_table(pa.Table.from_arrays([batch.column(0), vec], schema=schema))


def case_translate(inp: str, out: str, map_dir: str) -> None:
    from vecbridge.cli.main import main

    rc = main(["translate", map_dir, inp, "-o", out, "--quiet"])
    if rc:
        raise SystemExit(rc)


def prepare_lancedb(inp: Path, out: Path) -> None:
    """Load the input into a LanceDB table ``docs`` (set-up, in the parent: not measured)."""
    import lancedb
    import pyarrow.parquet as pq

    db = lancedb.connect(str(out))
    tbl = None
    for batch in pq.ParquetFile(str(inp), pre_buffer=False).iter_batches(batch_size=BATCH):
        if tbl is None:
            tbl = db.create_table("docs", batch)
        else:
            tbl.add(batch)


def case_lancedb(inp: str, out: str, map_dir: str) -> None:
    from vecbridge.stores.lancedb import migrate_lancedb

    migrate_lancedb(out, "docs", map_dir, target_table="docs_new", batch_rows=BATCH, progress=False)


def case_ray(inp: str, out: str, map_dir: str) -> None:
    import ray

    from vecbridge.distributed.ray_data import translate_parquet

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        translate_parquet(map_dir, inp, out, batch_size=BATCH)
    finally:
        ray.shutdown()


CASES = {"ceiling": case_ceiling, "translate": case_translate, "lancedb": case_lancedb, "ray": case_ray}


def child(case: str, inp: str, out: str, map_dir: str) -> None:
    t0 = time.perf_counter()
    CASES[case](inp, out, map_dir)
    secs = time.perf_counter() - t0
    print(json.dumps({"seconds": secs}))


def run_case(case: str, inp: Path, out: Path, map_dir: Path, nice: int) -> dict:
    cmd = [sys.executable, __file__, "--child", case, str(inp), str(out), str(map_dir)]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            preexec_fn=(lambda: os.nice(nice)) if nice else None)
    _, status, usage = os.wait4(proc.pid, 0)
    stdout, stderr = proc.stdout.read().decode(), proc.stderr.read().decode()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{case} failed ({proc.returncode}):\n{stderr[-3000:]}")
    res = json.loads(stdout.strip().splitlines()[-1])
    res["peak_rss_mib"] = usage.ru_maxrss / 1024  # of this child alone (Ray's workers are other processes)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--dims", type=int, nargs="+", default=[384, 768])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--nice", type=int, default=10, help="run the cases under nice (the CPU is shared)")
    ap.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--doc", action="store_true", help="write the table into docs/scale.md")
    ap.add_argument("--section", default="benchmark", help="which marked section of docs/scale.md to replace")
    ap.add_argument("--child", nargs=4, metavar=("CASE", "IN", "OUT", "MAP"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    work = Path(args.workdir or tempfile.mkdtemp(prefix="vecbridge-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows_out = []
    try:
        for dim in args.dims:
            map_dir = work / f"map{dim}"
            make_map(map_dir, dim)
            for n in args.rows:
                inp = work / f"in_{n}_{dim}.parquet"
                make_input(inp, n, dim)
                ceiling = None
                for case in args.cases:
                    out_dir = work / f"out_{case}_{n}_{dim}"
                    out_dir.mkdir(parents=True, exist_ok=True)
                    target = out_dir / ("out.parquet" if case in ("ceiling", "translate") else "out")
                    if case == "lancedb":
                        prepare_lancedb(inp, target)
                    r = run_case(case, inp, target, map_dir, args.nice)
                    vps = n / r["seconds"]
                    if case == "ceiling":
                        ceiling = vps
                    rel = f"{vps / ceiling:.0%}" if ceiling else ""
                    row = [case, dim, f"{n:,}", f"{r['seconds']:.1f}", f"{vps:,.0f}", rel, f"{r['peak_rss_mib']:,.0f}"]
                    rows_out.append(row)
                    print(" | ".join(str(v) for v in row), flush=True)
                    shutil.rmtree(out_dir, ignore_errors=True)
                inp.unlink()
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.doc:
        write_section(rows_out, args)


def write_section(rows: list, args) -> None:
    from report import machine, markdown_table, today

    table = markdown_table(["case", "dim", "rows", "seconds", "vectors/s", "of ceiling", "peak RSS (MiB)"], rows)
    cmd = "python benchmarks/throughput.py " + " ".join(
        [f"--rows {' '.join(map(str, args.rows))}", f"--dims {' '.join(map(str, args.dims))}",
         f"--cases {' '.join(args.cases)}", "--doc"] + ([f"--section {args.section}"] if args.section != "benchmark" else []))
    body = (
        f"Measured on {today()} on {machine()}, by `{cmd}`, every case under `nice -n {args.nice}`. "
        "The machine's 2 cores were shared with several other engineers' jobs while this ran, so the "
        "absolute figures are low and noisy; the ratio to the ceiling, measured minutes apart on the same "
        "machine, is the figure to read. Peak RSS is the child process's own (Ray's workers are separate "
        "processes and not included).\n\n" + table + "\n"
    )
    doc = HERE.parent / "docs" / "scale.md"
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Scale\n\n<!-- benchmark:start -->\n<!-- benchmark:end -->\n"
    start, end = f"<!-- {args.section}:start -->", f"<!-- {args.section}:end -->"
    if start not in text:
        text += f"\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    doc.write_text(f"{head}{start}\n{body}{end}{tail}", encoding="utf-8")
    print(f"wrote {doc}")


if __name__ == "__main__":
    main()

"""Throughput and peak memory of translating Parquet at scale.

Cases (each run in its own child process, so its peak resident memory is its own):

- ``ceiling``: a bare pyarrow read (``iter_batches``), numpy matmul and pyarrow write
  of the same rows, no project code;
- ``translate``: ``vecbridge translate MAP IN.parquet -o OUT.parquet`` (streaming, resumable);
- ``lancedb``: ``migrate_lancedb`` of a table holding the same rows into a new table
  (the table is loaded beforehand, by the parent, and not counted);
- ``chroma``: ``migrate_chroma`` of a persistent Chroma collection holding the same rows
  (ids and vectors; cosine space) into a new collection, the new HNSW index built as it writes
  (loaded beforehand by the parent, not counted);
- ``ray``: ``vecbridge.distributed.ray_data.translate_parquet`` on a local Ray
  cluster (``num_cpus`` = the machine's cores; Ray start-up included).

Usage::

    python benchmarks/throughput.py --rows 1000000 --dims 384 768 --doc
    python benchmarks/throughput.py --rows 200000 --dims 384 --cases ceiling translate
    python benchmarks/throughput.py --rows 10000000 --dims 384 --disk --timeout 1500 --doc --section rows10m

Scratch files go to a temporary folder (``--workdir`` to choose) and each case's output is
removed before the next. A case that would leave less than ``--min-free-gb`` free is skipped
and reported (see :func:`disk_need_gb`); at 10M rows, 384-d takes up to about 3 x 15.7 GB.

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


def prepare_chroma(inp: Path, out: Path) -> None:
    """Load the input into a Chroma collection ``docs`` (set-up, in the parent: not measured)."""
    import pyarrow.parquet as pq

    from vecbridge.stores.chroma import client

    cl = client(out, create=True)
    col = cl.create_collection("docs", metadata={"hnsw:space": "cosine"}, embedding_function=None)
    step = int(cl.get_max_batch_size())
    for batch in pq.ParquetFile(str(inp), pre_buffer=False).iter_batches(batch_size=step):
        vec = batch.column(1)
        col.add(ids=batch.column(0).to_pylist(), embeddings=vec.values.to_numpy().reshape(len(vec), -1))


def case_chroma(inp: str, out: str, map_dir: str) -> None:
    from vecbridge.stores.chroma import migrate_chroma

    migrate_chroma(out, "docs", map_dir, target_collection="docs_new", progress=False)


def case_ray(inp: str, out: str, map_dir: str) -> None:
    import ray

    from vecbridge.distributed.ray_data import translate_parquet

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False
        translate_parquet(map_dir, inp, out, batch_size=BATCH)
    finally:
        ray.shutdown()


CASES = {"ceiling": case_ceiling, "translate": case_translate, "lancedb": case_lancedb, "chroma": case_chroma,
         "ray": case_ray}


def child(case: str, inp: str, out: str, map_dir: str) -> None:
    t0 = time.perf_counter()
    CASES[case](inp, out, map_dir)
    secs = time.perf_counter() - t0
    print(json.dumps({"seconds": secs}))


def disk_need_gb(case: str, rows: int, dim: int) -> float:
    """Scratch space a case needs beyond its input, in GB (1e9 bytes), from the size of one copy.

    ``ceiling`` writes OUT once. ``translate`` writes the part files, then joins them into OUT
    and only then removes them, so it holds two copies at its peak. ``lancedb`` holds the loaded
    source table and the new table; ``chroma`` the same with an HNSW index beside each (three copies asked). ``ray`` materialises the translated dataset (Ray spills to
    /tmp what its object store cannot hold) and writes OUT: at 10M x 384-d its peak disk was
    57.2 GB with a 15.7 GB input, so three copies are asked for.
    """
    copy = rows * (4 * dim + 24) / 1e9  # float32 vector + id string and offsets, roughly
    return copy * {"ceiling": 1, "translate": 2, "lancedb": 2, "chroma": 3, "ray": 3}[case]


def run_case(case: str, inp: Path, out: Path, map_dir: Path, nice: int, timeout: float | None = None,
             disk_base: int | None = None) -> dict:
    """Run one case in a child process; its peak RSS, and the peak disk use while it ran.

    ``disk_base``: free bytes on the scratch file system before the input was written; the
    reported ``peak_disk_gb`` is the largest drop below it seen while the case ran (polled
    every second; other jobs writing to the same disk add to it).
    """
    cmd = [sys.executable, __file__, "--child", case, str(inp), str(out), str(map_dir)]
    if nice:  # the nice command rather than a preexec_fn: no fork of a parent that has loaded lancedb
        cmd = ["nice", "-n", str(nice)] + cmd
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
    # the child's output goes to files, not pipes: a child that writes more than a pipe holds
    # (Ray's warnings on a long run) would otherwise block before the parent reads it
    with tempfile.TemporaryFile() as fout, tempfile.TemporaryFile() as ferr:
        proc = subprocess.Popen(cmd, stdout=fout, stderr=ferr, env=env, start_new_session=True)
        t0 = time.monotonic()
        peak_disk = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if disk_base is not None:
                peak_disk = max(peak_disk, disk_base - shutil.disk_usage(out.parent).free)
            if timeout is not None and time.monotonic() - t0 > timeout:
                os.killpg(proc.pid, 9)  # the child's own session: Ray's workers go with it
                os.wait4(proc.pid, 0)
                raise TimeoutError(f"{case} stopped after {timeout:.0f} s")
            time.sleep(1.0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        stdout, stderr = fout.read().decode(errors="replace"), ferr.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{case} failed ({proc.returncode}):\n{stderr[-3000:]}")
    res = json.loads(stdout.strip().splitlines()[-1])
    res["peak_rss_mib"] = usage.ru_maxrss / 1024  # of this child alone (Ray's workers are other processes)
    res["peak_disk_gb"] = peak_disk / 1e9
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    ap.add_argument("--dims", type=int, nargs="+", default=[384, 768])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--nice", type=int, default=10, help="run the cases under nice (the CPU is shared)")
    ap.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--disk", action="store_true",
                    help="add a column: peak disk used while the case ran (input included)")
    ap.add_argument("--doc", action="store_true", help="write the table into docs/scale.md")
    ap.add_argument("--shared", action="store_true",
                    help="say in the doc that other jobs shared the machine while this ran")
    ap.add_argument("--section", default="benchmark", help="which marked section of docs/scale.md to replace")
    ap.add_argument("--timeout", type=float, default=None, help="stop a case after this many seconds")
    ap.add_argument("--min-free-gb", type=float, default=5.0,
                    help="skip a case when it would leave less than this much disk free")
    ap.add_argument("--child", nargs=4, metavar=("CASE", "IN", "OUT", "MAP"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    work = Path(args.workdir or tempfile.mkdtemp(prefix="vecbridge-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows_out, not_run = [], []
    try:
        for dim in args.dims:
            map_dir = work / f"map{dim}"
            make_map(map_dir, dim)
            for n in args.rows:
                inp = work / f"in_{n}_{dim}.parquet"
                disk_base = shutil.disk_usage(work).free
                t0 = time.perf_counter()
                make_input(inp, n, dim)
                print(f"# input {n:,} x {dim}: {inp.stat().st_size / 1e9:.1f} GB written in "
                      f"{time.perf_counter() - t0:.0f} s; {shutil.disk_usage(work).free / 1e9:.1f} GB free",
                      flush=True)
                ceiling = None
                for case in args.cases:
                    free = shutil.disk_usage(work).free / 1e9
                    need = disk_need_gb(case, n, dim)
                    if free - need < args.min_free_gb:
                        msg = (f"{case} {dim}-d {n:,} rows: needs ~{need:.1f} GB beyond the input "
                               f"+ {args.min_free_gb:g} GB margin, {free:.1f} GB free")
                        print(f"# skipped: {msg}", flush=True)
                        not_run.append(msg)
                        continue
                    out_dir = work / f"out_{case}_{n}_{dim}"
                    out_dir.mkdir(parents=True, exist_ok=True)
                    target = out_dir / ("out.parquet" if case in ("ceiling", "translate") else "out")
                    print(f"# {time.strftime('%H:%M:%S')} {case} {dim}-d {n:,} rows ({free:.0f} GB free)", flush=True)
                    try:
                        if case in ("lancedb", "chroma"):
                            t0 = time.perf_counter()
                            (prepare_lancedb if case == "lancedb" else prepare_chroma)(inp, target)
                            print(f"# {case} store loaded in {time.perf_counter() - t0:.0f} s (not measured)",
                                  flush=True)
                        r = run_case(case, inp, target, map_dir, args.nice, args.timeout, disk_base)
                    except (RuntimeError, TimeoutError) as e:
                        print(f"# not run: {e}", flush=True)
                        not_run.append(f"{case} {dim}-d {n:,} rows: {str(e).splitlines()[0]}")
                        continue
                    finally:
                        shutil.rmtree(out_dir, ignore_errors=True)
                    vps = n / r["seconds"]
                    if case == "ceiling":
                        ceiling = vps
                    rel = f"{vps / ceiling:.0%}" if ceiling else ""
                    row = [case, dim, f"{n:,}", f"{r['seconds']:.1f}", f"{vps:,.0f}", rel, f"{r['peak_rss_mib']:,.0f}"]
                    if args.disk:
                        row.append(f"{r['peak_disk_gb']:.1f}")
                    rows_out.append(row)
                    print(" | ".join(str(v) for v in row), flush=True)
                inp.unlink()
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    for msg in not_run:
        print(f"# not run: {msg}")
    if args.doc:
        write_section(rows_out, args, not_run)


def write_section(rows: list, args, not_run: list[str] = ()) -> None:
    from report import machine, markdown_table, today

    headers = ["case", "dim", "rows", "seconds", "vectors/s", "of ceiling", "peak RSS (MiB)"]
    if args.disk:
        headers.append("peak disk (GB)")
    table = markdown_table(headers, rows)
    cmd = "python benchmarks/throughput.py " + " ".join(
        [f"--rows {' '.join(map(str, args.rows))}", f"--dims {' '.join(map(str, args.dims))}",
         f"--cases {' '.join(args.cases)}"] + (["--disk"] if args.disk else [])
        + (["--shared"] if args.shared else []) + ([f"--nice {args.nice}"] if args.nice != 10 else []) + ["--doc"]
        + ([f"--section {args.section}"] if args.section != "benchmark" else []))
    body = (
        f"Measured on {today()} on {machine()}, by `{cmd}`, every case under `nice -n {args.nice}`. "
        + ("The machine's 2 cores were shared with several other engineers' jobs while this ran, so the "
           "absolute figures are low and noisy; the ratio to the ceiling, measured minutes apart on the same "
           "machine, is the figure to read. " if args.shared else "")
        + "Peak RSS is the child process's own (Ray's workers are separate processes and not included)."
        + (" Peak disk is the largest drop in free space on the scratch disk while the case ran, counted "
           "from before the input was written, so it includes the input (and anything other jobs wrote "
           "meanwhile)." if args.disk else "")
        + "\n\n" + table + "\n"
        + "".join(f"\nNot run: {m}.\n" for m in not_run)
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

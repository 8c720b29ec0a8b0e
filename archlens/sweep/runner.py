"""Run a sweep on Ray: spec -> variants -> batched tasks -> incremental Parquet -> results.

* Without ``address``: a local Ray instance on this machine's cores (``address="local"``, no
  dashboard), shut down at the end. With ``address`` (``auto`` or ``HOST:PORT``): an existing
  cluster, whose reachability is checked before anything is written. A Ray session the caller
  already started (a notebook's ``ray.init()``) is used as it is and left running.
* Variants go out in batches (``measure.batch_size``, or chosen from the variant count), at
  most two batches per worker in flight, so the driver holds a bounded window of work. A
  task streams its rows one variant at a time; each finished batch is written as one Parquet
  part at once. When a worker dies, the rows the driver already received are kept and the
  rest of its batch is re-run variant by variant, so one bad variant fails alone. A running variant that gives
  no row within ``timeout_s`` + :data:`DEADLINE_GRACE_S` (its worker's alarm could not stop
  it) is cancelled and recorded as timed out; the rest of its batch runs again.
* SIGINT: stop submitting, wait for the batches in flight, write them, raise
  :class:`SweepInterrupted` (a second SIGINT stops at once). SIGKILL loses only the batches in
  flight. ``resume=True`` skips every variant whose row is already written.
"""
from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archlens.errors import ClusterError
from archlens.sweep.spec import SweepSpec, load_spec
from archlens.sweep.store import SCHEMA, Store, read_results
from archlens.sweep.variants import Variant, count, expand

DEFAULT_OUT = "sweeps"
MAX_CALLS = 200           # a Ray worker process is replaced after this many batches
DEADLINE_GRACE_S = 60.0   # past measure.timeout_s, before the driver cancels a running variant
WORKER_SETUP_S = 120.0    # a task's set-up before its first variant (a fresh worker's imports)


class SweepInterrupted(KeyboardInterrupt):
    """SIGINT during a sweep: the batches in flight were written; ``--resume`` continues."""


@dataclass
class SweepResult:
    """A finished sweep: ``table`` (pyarrow, one row per variant in expansion order; see
    docs/sweep.md for the columns), ``summary`` (counts, reasons, throughput, references) and
    the folder it lives in."""

    table: Any
    summary: dict[str, Any]
    out: Path
    spec: SweepSpec | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return self.table.num_rows

    def to_pandas(self):
        return self.table.to_pandas()

    def ok(self):
        """The rows with status ``ok`` (pyarrow)."""
        import pyarrow.compute as pc
        return self.table.filter(pc.equal(self.table.column("status"), "ok"))

    def _repr_html_(self) -> str:
        from archlens.sweep.fronts import counts_line
        return f"<p>{self.summary.get('name', '')}: {counts_line(self.summary)}</p>"


def load_sweep(out: str | Path) -> SweepResult:
    """The :class:`SweepResult` of a finished sweep folder (for notebooks and the dashboard).
    Reads data only: the spec (whose file builder would run code) is not rebuilt."""
    table, summary = read_results(out)
    return SweepResult(table, summary, Path(out))


# ----------------------------------------------------------------------------------------
# Ray
# ----------------------------------------------------------------------------------------

def _check_reachable(address: str) -> None:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ClusterError(f"--address {address!r}: expected auto or HOST:PORT, e.g. "
                           "127.0.0.1:6379")
    try:
        with socket.create_connection((host, int(port)), timeout=3):
            pass
    except OSError as e:
        raise ClusterError(f"cannot reach a Ray cluster at {address} ({e.strerror or e}); "
                           f"start one with 'ray start --head --port {port}', or omit "
                           "--address for a local instance") from None


@contextlib.contextmanager
def ray_session(address: str | None, workers: int | None) -> Iterator[dict[str, Any]]:
    """Connect to (or start) Ray; yields {"cpus", "nodes", "startup_s", "address"}."""
    try:
        import ray
    except ModuleNotFoundError:
        from archlens.errors import MissingDependencyError
        raise MissingDependencyError("sweeps run on Ray, which is not installed; install it "
                                     "with: pip install 'archlens[sweep]'") from None
    if address and address != "auto":
        _check_reachable(address)
    t0 = time.perf_counter()
    owned = False
    if not ray.is_initialized():
        kw: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                  logging_level=logging.WARNING)
        try:
            if address:
                ray.init(address=address, **kw)
            else:
                ray.init(address="local", num_cpus=workers or os.cpu_count() or 1, **kw)
        except Exception as e:  # ConnectionError, RuntimeError ... from ray.init
            where = f"the Ray cluster at {address}" if address else "a local Ray instance"
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ClusterError(f"cannot connect to {where}: {msg}") from None
        owned = True
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
        yield {"cpus": cpus, "nodes": nodes, "startup_s": time.perf_counter() - t0,
               "address": address or "local"}
    finally:
        if owned:
            ray.shutdown()


# ----------------------------------------------------------------------------------------
# the sweep
# ----------------------------------------------------------------------------------------

def run_sweep(spec: "str | Path | Mapping[str, Any] | SweepSpec", out: str | Path | None = None,
              *, workers: int | None = None, address: str | None = None, resume: bool = False,
              progress: Callable[[dict[str, Any]], None] | None = None,
              references: bool = False) -> SweepResult:
    """Run ``spec`` and return its :class:`SweepResult` (also written to ``out``, default
    ``sweeps/<name>/``). ``workers``: concurrent tasks (default: every CPU of the instance or
    cluster). ``progress(event)`` is called after every batch with done/total/counts/rate/eta.
    ``references``: also analyse the builder family's zoo members (on a worker, alongside the
    sweep) for the report's width/depth plane."""
    spec = load_spec(spec)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        from archlens.errors import ConfigError
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    out = Path(out) if out is not None else Path(DEFAULT_OUT) / spec.name
    run_id = uuid.uuid4().hex[:12]
    store = Store(out, spec, resume=resume, run=run_id)  # folder rules checked before Ray
    total = count(spec)
    t_start = time.perf_counter()
    with ray_session(address, workers) as session:
        store.open()
        done = store.done_ids() if resume else set()
        n_workers = workers or session["cpus"]
        batch = spec.measure.batch_size or max(1, min(32, (total - len(done))
                                                      // max(1, n_workers * 8)))
        todo = (v for v in expand(spec) if v.id not in done)
        stats = _execute(spec, store, todo, total=total, skipped=len(done), workers=n_workers,
                         batch_size=batch, progress=progress, references=references)
    if stats["interrupted"]:
        raise SweepInterrupted(
            f"interrupted: {stats['written'] + len(done)} of {total} variants written to "
            f"{str(out)!r}; continue with --resume")
    summary = _summary(spec, store, session, stats, total=total, skipped=len(done),
                       workers=n_workers, batch_size=batch, wall=time.perf_counter() - t_start,
                       run_id=run_id)
    table = store.finalize(summary)
    return SweepResult(table, summary, out, spec)


def _batches(it: Iterator[Variant], size: int) -> Iterator[list[Variant]]:
    chunk: list[Variant] = []
    for v in it:
        chunk.append(v)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _Interrupt:
    """First SIGINT: drain and stop; second: stop now (main thread only)."""

    def __init__(self):
        self.requested = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


@dataclass
class _Flight:
    """One batch task in flight: its variants, the rows received so far, whether it has
    started running and finished its set-up (the worker's first two items), and when what it
    is doing now is overdue."""

    batch: list[Variant]
    single: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    started: bool = False
    ready: bool = False
    deadline: float = float("inf")


def variant_deadline_s(spec: SweepSpec) -> float:
    """Seconds a running task may take per variant before the driver cancels it: the worker's
    own alarm fires at ``timeout_s``; the grace covers a variant that cannot be interrupted
    by it (a hang in C code with signals blocked) and the row's way back."""
    return spec.measure.timeout_s + DEADLINE_GRACE_S


def _execute(spec: SweepSpec, store: Store, todo: Iterator[Variant], *, total: int,
             skipped: int, workers: int, batch_size: int,
             progress: Callable[[dict[str, Any]], None] | None,
             references: bool) -> dict[str, Any]:
    import ray

    from archlens.sweep import worker

    task = ray.remote(num_cpus=1, max_retries=0, max_calls=MAX_CALLS)(worker.stream_batch)
    spec_ref = ray.put(spec)
    refs_task = ray.remote(num_cpus=1, max_retries=0)(zoo_references).remote(spec_ref) if \
        references else None
    batches = _batches(todo, batch_size)
    pending: dict[Any, _Flight] = {}   # ObjectRefGenerator -> its batch
    counts: Counter[str] = Counter()
    nodes: Counter[str] = Counter()
    written = 0
    analysed_s = 0.0
    t0 = time.perf_counter()
    exhausted = False
    retry: list[tuple[list[Variant], bool]] = []   # (batch, single), taken from the end
    per_variant = variant_deadline_s(spec)

    def submit(b: list[Variant], single: bool = False) -> None:
        pending[task.remote(spec_ref, b)] = _Flight(b, single)

    def record(rows: list[dict[str, Any]]) -> None:
        nonlocal written, analysed_s
        if not rows:
            return
        store.write_part(rows)
        written += len(rows)
        for r in rows:
            counts[r["status"]] += 1
            nodes[str(r.get("node"))] += 1
            analysed_s += float(r.get("elapsed_s") or 0.0)
        if progress:
            el = time.perf_counter() - t0
            rate = written / el if el > 0 else 0.0
            left = total - skipped - written
            progress({"done": skipped + written, "total": total, "written": written,
                      "counts": dict(counts), "rate": rate,
                      "eta_s": left / rate if rate > 0 else None})

    def failed_rows(b: list[Variant], status: str, reason: str) -> list[dict[str, Any]]:
        rows = []
        for v in b:
            r = worker.empty_row(v)
            r.update(status=status, reason=reason, elapsed_s=None, node=None, pid=None)
            rows.append(r)
        return rows

    def on_item(gen: Any, f: _Flight, now: float) -> None:
        try:
            ref = next(gen)
        except StopIteration:  # the batch is done: one part
            pending.pop(gen)
            record(f.rows)
            return
        try:
            item = ray.get(ref)
        except ray.exceptions.RayError as e:  # the worker died (OOM, crash) or was cancelled
            pending.pop(gen)
            rest = f.batch[len(f.rows):]
            record(f.rows)  # what it finished is kept
            if f.single or len(f.batch) == 1:
                msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
                record(failed_rows(rest, "failed", f"worker failed: {type(e).__name__}: "
                                                   f"{msg}"[:500]))
            else:  # which variant killed it is unknown: each of the rest runs alone
                retry.extend(([v], True) for v in reversed(rest))
            return
        if item == worker.STARTED:  # running: the worker's set-up has its own budget
            f.started = True
            f.deadline = now + WORKER_SETUP_S
            return
        if item == worker.READY:
            f.ready = True
        else:
            f.rows.append(item)
        f.deadline = now + per_variant

    def on_overdue(gen: Any, f: _Flight) -> None:
        """A running variant past its deadline: cancel the task, keep the rows it finished,
        record the variant it was on as timed out, and run the rest of its batch again."""
        ray.cancel(gen, force=True)
        pending.pop(gen)
        if not f.ready:  # stuck importing archlens or the builder: no variant is to blame
            record(failed_rows(f.batch, "timeout", f"the worker's set-up (importing archlens "
                               f"and the builder) took over {WORKER_SETUP_S:g} s; cancelled"))
            return
        if len(f.rows) == len(f.batch):  # every row arrived; only the task's ending hung
            record(f.rows)
            return
        stuck, rest = f.batch[len(f.rows)], f.batch[len(f.rows) + 1:]
        record(f.rows + failed_rows(
            [stuck], "timeout",
            f"no result within {per_variant:g} s (timeout_s {spec.measure.timeout_s:g} + "
            f"{DEADLINE_GRACE_S:g} s grace): the variant did not stop at its alarm; its "
            "worker was cancelled"))
        if rest:
            retry.append((rest, f.single))

    if progress:
        progress({"done": skipped, "total": total, "written": 0, "counts": {}, "rate": 0.0,
                  "eta_s": None})
    with _Interrupt() as intr:
        while True:
            while not intr.requested and len(pending) < 2 * workers:
                if retry:
                    submit(*retry.pop())
                    continue
                b = next(batches, None) if not exhausted else None
                if b is None:
                    exhausted = True
                    break
                submit(b)
            if not pending:
                break
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            now = time.monotonic()
            for gen in ready:
                on_item(gen, pending[gen], now)
            for gen, f in list(pending.items()):
                if f.started and now > f.deadline:  # a queued task has no deadline yet
                    on_overdue(gen, f)
    refs: list[dict[str, Any]] = []
    refs_note = ""
    if refs_task is not None and not intr.requested:  # analysed while the sweep ran
        try:
            refs = ray.get(refs_task, timeout=max(60.0, spec.measure.timeout_s))
        except Exception as e:  # recorded, never fatal: the plane then shows no zoo models
            refs_note = f"zoo references not analysed: {type(e).__name__}: " + (
                str(e).strip().splitlines() or [""])[0][:300]
    return {"written": written, "counts": dict(counts), "nodes": dict(nodes),
            "references": refs, "references_note": refs_note,
            "interrupted": intr.requested and (not exhausted or bool(pending) or bool(retry)),
            "analysed_s": analysed_s, "exec_s": time.perf_counter() - t0}


def _summary(spec: SweepSpec, store: Store, session: dict[str, Any], stats: dict[str, Any], *,
             total: int, skipped: int, workers: int, batch_size: int, wall: float,
             run_id: str) -> dict[str, Any]:
    table = store.read_all()
    status = table.column("status").to_pylist()
    reasons = [r for r, s in zip(table.column("reason").to_pylist(), status) if s == "pruned"]
    pruned_by: Counter[str] = Counter()
    for r in reasons:
        pruned_by[_constraint_of(r)] += 1
    failures = [{"variant_id": i, "status": s, "reason": r} for i, s, r in zip(
        table.column("variant_id").to_pylist(), status, table.column("reason").to_pylist())
        if s in ("failed", "timeout")]
    exec_s = stats["exec_s"]
    return {
        "schema": SCHEMA, "name": spec.name, "description": spec.description,
        "builder": spec.builder, "fingerprint": spec.fingerprint, "spec": spec.to_dict(),
        "variants": total, "counts": dict(Counter(status)),
        "pruned_by": dict(pruned_by), "failures": failures[:50],
        "failures_total": len(failures),
        "this_run": {"run": run_id, "analysed": stats["written"], "skipped_resumed": skipped,
                     "workers": workers, "batch_size": batch_size,
                     "address": session["address"], "cluster_cpus": session["cpus"],
                     "cluster_nodes": len(session["nodes"]),
                     "rows_per_node": stats["nodes"],
                     "ray_startup_s": round(session["startup_s"], 3),
                     "exec_s": round(exec_s, 3), "wall_s": round(wall, 3),
                     "variants_per_s": round(stats["written"] / exec_s, 3) if exec_s else None,
                     "units": {"time": "seconds (wall clock)", "macs": "multiply-accumulates",
                               "params": "count", "rf": "px"}},
        "references": stats["references"], "references_note": stats["references_note"],
    }


def _constraint_of(reason: str | None) -> str:
    if not reason:
        return "unknown"
    for word in reason.split():
        if word.startswith(("min_", "max_")):
            return word
    return reason.split(":")[0]


def zoo_references(spec: SweepSpec) -> list[dict[str, Any]]:
    """The zoo members of the spec's family (analysed on meta at their card's input), so the
    report can place them on the width/depth plane; [] for a file builder."""
    from archlens.sweep.builders import FAMILIES, resolve_builder
    if spec.builder not in FAMILIES:
        return []
    import archlens
    from archlens import zoo
    from archlens.sweep.worker import depth_width
    out = []
    for name in resolve_builder(spec.builder, spec.base_dir).zoo_cards:
        a = archlens.analyze(name, device="meta", checks=False)
        depth, width = depth_width(a)
        card = zoo.card(name)
        rf = a.feature_rf
        out.append({"name": name, "params": a.totals.params, "macs": a.totals.macs,
                    "paper_macs": a.totals.paper_macs,
                    "rf": int(max(rf.size)) if rf is not None else None,
                    "depth": depth, "width": width,
                    "input": "x".join(map(str, card.input_shape)),
                    "published_params": card.published_params,
                    "published_macs": card.published_macs})
    return out

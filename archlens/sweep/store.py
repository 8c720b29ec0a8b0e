"""The sweep folder: incremental Parquet parts, the final table and the JSON summary.

Layout of ``--out DIR``::

    manifest.json          schema, spec fingerprint and spec (written first)
    parts/part-*.parquet   one file per finished batch, written atomically as it arrives
    results.parquet        the final table: one row per variant, ordered by its index
    timings.parquet        run-dependent columns (seconds per variant, node, pid, run)
    summary.json           counts, prune/failure reasons, throughput, references

Every file is written by :func:`archlens.outputs.write_file` (a temporary sibling renamed into
place; temporaries of dead processes are cleaned up), so a killed driver leaves only whole
parts behind; ``--resume`` reads their variant ids and skips them. archlens writes only into
an empty or missing folder or one holding a sweep of the same spec.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from archlens.errors import OutputError
from archlens.outputs import write_file
from archlens.sweep.spec import SweepSpec, canonical_json

SCHEMA = "archlens.sweep/1"
RUN_COLUMNS = ("elapsed_s", "node", "pid", "run")

_BASE_FIELDS: list[tuple[str, pa.DataType]] = [
    ("variant_id", pa.string()), ("index", pa.int64()), ("config", pa.string()),
    ("input", pa.string()), ("zoo_model", pa.string()), ("status", pa.string()),
    ("reason", pa.string()),
    ("params", pa.int64()), ("trainable_params", pa.int64()), ("macs", pa.int64()),
    ("paper_macs", pa.int64()), ("activations", pa.int64()), ("weight_bytes", pa.int64()),
    ("peak_activation_bytes", pa.int64()),
    ("rf", pa.int64()), ("rf_h", pa.int64()), ("rf_w", pa.int64()), ("rf_stride", pa.int64()),
    ("depth", pa.int64()), ("width", pa.int64()), ("nodes", pa.int64()),
    ("unsupported_ops", pa.string()),
    ("findings_error", pa.int64()), ("findings_warning", pa.int64()),
    ("findings_info", pa.int64()), ("findings", pa.string()),
    ("latency_ms", pa.float64()), ("latency_note", pa.string()),
]
_RUN_FIELDS = [("elapsed_s", pa.float64()), ("node", pa.string()), ("pid", pa.int64()),
               ("run", pa.string())]


def param_column(name: str) -> str:
    return f"p.{name}"


def _param_type(p) -> pa.DataType:
    if p.dist == "randint":
        return pa.int64()
    if p.dist:
        return pa.float64()
    vals = p.values
    if all(isinstance(v, bool) for v in vals):
        return pa.bool_()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return pa.int64()
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return pa.float64()
    return pa.string()


def table_schema(spec: SweepSpec, *, run_columns: bool = False) -> pa.Schema:
    """Base columns, one ``p.<name>`` column per swept parameter (typed from its values:
    bool, int64, float64, else a string; lists are written as JSON), then run columns."""
    fields = list(_BASE_FIELDS)
    fields[4:4] = [(param_column(p.name), _param_type(p)) for p in spec.params]
    if run_columns:
        fields += _RUN_FIELDS
    return pa.schema([pa.field(n, t) for n, t in fields],
                     metadata={"schema": SCHEMA, "spec": canonical_json(spec.to_dict())})


def _cell(value: Any, typ: pa.DataType) -> Any:
    if value is None:
        return None
    if pa.types.is_string(typ):
        return value if isinstance(value, str) else canonical_json(value)
    if pa.types.is_floating(typ):
        return float(value)
    return value


def rows_to_table(spec: SweepSpec, rows: Iterable[Mapping[str, Any]], run: str) -> pa.Table:
    schema = table_schema(spec, run_columns=True)
    cols: dict[str, list[Any]] = {f.name: [] for f in schema}
    for r in rows:
        params = json.loads(r["config"])
        for f in schema:
            if f.name.startswith("p."):
                v = params.get(f.name[2:])
            elif f.name == "run":
                v = run
            else:
                v = r.get(f.name)
            cols[f.name].append(_cell(v, f.type))
    return pa.table(cols, schema=schema)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def write_parquet(path: Path, table: pa.Table) -> None:
    """``table`` to ``path`` atomically (archlens.outputs: temp file + rename)."""
    write_file(path, parquet_bytes(table), hint="choose a writable --out")


def write_json(path: Path, doc: Any) -> None:
    write_file(path, json.dumps(doc, indent=2) + "\n", hint="choose a writable --out")


class Store:
    """The ``--out`` folder of one sweep (see the module docstring)."""

    def __init__(self, out: Path | str, spec: SweepSpec, *, resume: bool, run: str):
        self.out = Path(out).expanduser()
        self.spec = spec
        self.run = run
        self.parts = self.out / "parts"
        self._seq = 0
        self._check_folder(resume)

    # ----- folder rules --------------------------------------------------------------------
    def _check_folder(self, resume: bool) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise OutputError(f"--out {str(out)!r} is a file, not a folder")
        manifest = out / "manifest.json"
        if manifest.is_file():
            try:
                doc = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise OutputError(f"{str(manifest)!r} is unreadable; choose another --out"
                                  ) from None
            if doc.get("schema") != SCHEMA:
                raise OutputError(f"{str(out)!r} holds something other than an archlens sweep; "
                                  "choose another --out")
            if doc.get("fingerprint") != self.spec.fingerprint:
                raise OutputError(
                    f"{str(out)!r} holds a sweep of a different spec ({doc.get('name')!r}, "
                    f"fingerprint {str(doc.get('fingerprint'))[:12]}); choose another --out")
            if not resume:
                raise OutputError(f"{str(out)!r} already holds this sweep; pass --resume to "
                                  "continue it, or choose another --out")
            return
        if out.is_dir() and any(out.iterdir()):
            raise OutputError(f"refusing to write into {str(out)!r}: it is not empty and holds "
                              "no archlens sweep; choose another --out")

    def open(self) -> None:
        """Create the folder and write the manifest (idempotent on resume)."""
        try:
            self.parts.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create {str(self.parts)!r}: {e.strerror}") from None
        manifest = self.out / "manifest.json"
        if not manifest.is_file():
            write_json(manifest, {"schema": SCHEMA, "name": self.spec.name,
                                  "fingerprint": self.spec.fingerprint,
                                  "spec": self.spec.to_dict(), "spec_input": dict(self.spec.extra),
                                  "source": self.spec.source, "base_dir": self.spec.base_dir})

    # ----- parts ---------------------------------------------------------------------------
    def part_files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet")) if self.parts.is_dir() else []

    def done_ids(self) -> set[str]:
        ids: set[str] = set()
        for f in self.part_files():
            ids.update(pq.read_table(f, columns=["variant_id"]).column(0).to_pylist())
        return ids

    def write_part(self, rows: list[Mapping[str, Any]]) -> Path:
        table = rows_to_table(self.spec, rows, self.run)
        path = self.parts / f"part-{self.run}-{self._seq:06d}.parquet"
        self._seq += 1
        write_parquet(path, table)
        return path

    # ----- final ---------------------------------------------------------------------------
    def read_all(self) -> pa.Table:
        files = self.part_files()
        schema = table_schema(self.spec, run_columns=True)
        if not files:
            return schema.empty_table()
        t = pa.concat_tables([pq.read_table(f, schema=schema) for f in files])
        t = t.sort_by([("index", "ascending"), ("run", "ascending")])
        ids = t.column("variant_id").to_pylist()
        seen: set[str] = set()
        keep = [not (i in seen or seen.add(i)) for i in ids]
        return t.filter(pa.array(keep))

    def finalize(self, summary: Mapping[str, Any]) -> pa.Table:
        full = self.read_all()
        base = [f.name for f in table_schema(self.spec)]
        results = full.select(base).replace_schema_metadata(table_schema(self.spec).metadata)
        timings = full.select(["variant_id", *RUN_COLUMNS])
        write_parquet(self.out / "results.parquet", results)
        write_parquet(self.out / "timings.parquet", timings)
        write_json(self.out / "summary.json", dict(summary))
        return results


def read_spec(out: Path | str) -> SweepSpec | None:
    """The spec a sweep folder was run with (from its manifest), or None if it cannot be
    rebuilt (e.g. a file builder that moved)."""
    from archlens.errors import ArchlensError
    from archlens.sweep.spec import parse_spec
    try:
        doc = json.loads((Path(out) / "manifest.json").read_text(encoding="utf-8"))
        return parse_spec(doc["spec_input"], source=doc.get("source"),
                          base_dir=Path(doc["base_dir"]))
    except (OSError, ValueError, KeyError, TypeError, ArchlensError):
        return None


def read_results(out: Path | str) -> tuple[pa.Table, dict[str, Any]]:
    """(results table, summary) of a finished sweep folder."""
    out = Path(out).expanduser()
    res, summ = out / "results.parquet", out / "summary.json"
    if not res.is_file() or not summ.is_file():
        raise OutputError(f"{str(out)!r} holds no finished sweep (results.parquet and "
                          "summary.json); run 'archlens sweep SPEC --out DIR' (or --resume)")
    return pq.read_table(res), json.loads(summ.read_text(encoding="utf-8"))

"""The dashboard's Sweep tab: a finished ``archlens sweep`` folder, drawn.

Kept in its own file (the dashboard imports :func:`tab_sweep`). Everything shown comes from
the public API (``archlens.load_sweep``, which reads Parquet/JSON only and runs no builder
code) and the figure builders of :mod:`archlens.render.sweep`; the page computes nothing.
Sweeps are run from the command line (``archlens sweep SPEC.toml``): a sweep of thousands of
variants belongs on Ray workers, not in a page request.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

DEFAULT_ROOT = "sweeps"


def _folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir()
                  if (p / "results.parquet").is_file() and (p / "summary.json").is_file())


@st.cache_data(show_spinner=False, max_entries=8)
def _load(folder: str, mtime: float):
    import archlens
    res = archlens.load_sweep(folder)
    return res.table.to_pylist(), res.summary


def tab_sweep(_a=None, _sel=None) -> None:
    from archlens.errors import ArchlensError
    from archlens.render import sweep as view
    from archlens.sanitize import for_markdown
    from archlens.sweep import fronts

    root = Path(st.text_input("Sweeps folder", DEFAULT_ROOT, key="sweep_root",
                              help="a folder holding 'archlens sweep' outputs "
                                   "(one sub-folder per sweep)"))
    folders = _folders(root) or ([root] if (root / "results.parquet").is_file() else [])
    if not folders:
        st.info("No finished sweep here. Run one, e.g. "
                "`archlens sweep examples/sweeps/small.toml` (it writes sweeps/small/).")
        return
    folder = st.selectbox("Sweep", folders, format_func=lambda p: p.name, key="sweep_folder")
    try:
        rows, summary = _load(str(folder), (folder / "results.parquet").stat().st_mtime)
    except ArchlensError as e:
        st.error(str(e))
        return
    st.markdown(for_markdown(f"**{summary.get('name', '')}**: {fronts.counts_line(summary)}"))
    figs = view.figures(rows, summary.get("references", []))
    if not figs:
        st.info("No variant finished with status ok: nothing to plot.")
    for fig in figs.values():
        st.plotly_chart(fig, use_container_width=True)
    cols = ["variant_id", "config", "input", "zoo_model", "status", "params", "macs", "rf",
            "depth", "width", "reason"]
    st.dataframe([{c: r.get(c) for c in cols} for r in rows], hide_index=True,
                 use_container_width=True)
    st.caption("MACs are multiply-accumulates (batch 1); RF is the feature receptive field "
               "in px; depth = conv layers on the longest path, width = channels of the "
               "widest stage. Full table: results.parquet in the sweep folder.")

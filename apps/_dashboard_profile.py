"""The dashboard's Profile tab: measured latency per layer, roofline, G1-G4 on measured times.

Kept in its own file (the dashboard imports :func:`tab_profile`): everything shown comes from
the public API (``archlens.profile``, ``archlens.profile.load``, ``archlens.checks.run`` with the
profile) and the renderers in :mod:`archlens.render.profile`; the page computes no metric.

A profile is either measured on the server (CPU, a few seconds; cached per model, input and
batch for the session) or loaded from a file written by ``archlens profile MODEL --json``.
"""
from __future__ import annotations

import json
from typing import Any

import streamlit as st

from archlens.sanitize import for_markdown as _md


@st.cache_resource(show_spinner=False, max_entries=8)
def _measured(model: str, chw: tuple[int, ...] | None, batch: int, threads: int):
    import archlens
    return archlens.profile(model, chw, batch=batch, threads=threads, min_time=2.0)


def _rows(p) -> list[dict[str, Any]]:
    rows = []
    for lp in p.layers:
        r = p.layer_row(lp)
        rows.append({"layer": lp.name, "type": lp.type, "median (ms)": lp.median_s * 1e3,
                     "IQR (ms)": lp.iqr_s * 1e3,
                     "time %": 100 * (r["latency_share"] or 0),
                     "MACs %": 100 * (r["mac_share"] or 0),
                     "GMAC/s": (r["achieved_macs_per_s"] or 0) / 1e9 or None,
                     "roofline %": r["percent_of_roofline"], "bound": r["bound"],
                     "estimate (ms)": None if r["estimate_s"] is None else r["estimate_s"] * 1e3,
                     "est. error %": None if r["estimate_error"] is None
                     else 100 * r["estimate_error"]})
    return rows


def tab_profile(a, sel) -> None:
    """The tab body; ``a`` is the selected model's Analysis, ``sel`` the sidebar selection
    (``model``, ``chw``, ``batch``, ``is_user_code``)."""
    from archlens.profile import Profile

    st.caption("Measured latency per layer (median over timed passes, the whole-model median "
               "measured without the profiler beside their sum), bytes moved, the device "
               "roofline measured on this server, and ShuffleNet V2's guidelines G1-G4 on the "
               "measured times. `archlens profile MODEL --json FILE` writes a profile to load.")
    c1, c2 = st.columns(2)
    up = c1.file_uploader("Load a profile JSON", type=["json"], key="profile_upload")
    measure = c2.button("Measure on this server (CPU, 1 thread)", key="profile_measure",
                        disabled=sel.is_user_code)
    p = None
    if up is not None:
        try:
            p = Profile.from_dict(json.loads(up.getvalue().decode("utf-8")))
        except Exception as e:  # noqa: BLE001 - shown, not raised
            st.error(f"{_md(up.name)}: {_md(e)}")
            return
    elif measure or st.session_state.get("profile_key") == (sel.model, sel.chw, sel.batch):
        with st.spinner("profiling (a few seconds)..."):
            p = _measured(sel.model, sel.chw, sel.batch, 1)
        st.session_state["profile_key"] = (sel.model, sel.chw, sel.batch)
    if p is None:
        st.info("Measure the selected model here, or load a profile file.")
        return
    show_profile(a, p)


def show_profile(a, p) -> None:
    """Render profile ``p`` of the model analysed as ``a`` (metrics, table, charts, G1-G4)."""
    from archlens import checks
    from archlens.render import profile as view
    if [lp.name for lp in p.layers] != [n.name for n in a.graph.layers]:
        st.warning(f"this profile is of {_md(p.model)}; its layers differ from the selected "
                   f"model's, so the guidelines are not checked against it")
        findings = ()
    else:
        findings = checks.run(a, profile=p)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("whole model (median)", f"{p.whole_median_s * 1e3:.2f} ms")
    m2.metric("sum of layer medians", f"{p.sum_median_s * 1e3:.2f} ms",
              f"{100 * p.overhead_fraction:+.1f} %", delta_color="off")
    if p.roofline is not None:
        m3.metric("peak (measured)", f"{p.roofline.peak_macs_per_s / 1e9:.1f} GMAC/s")
        m4.metric("bandwidth (measured)", f"{p.roofline.bandwidth_bytes_per_s / 1e9:.1f} GB/s")
    st.dataframe(_rows(p), hide_index=True, width="stretch")
    for key, fig in (("shares", view.share_chart(p)), ("roofline", view.roofline_chart(p)),
                     ("treemap", view.treemap(p))):
        st.plotly_chart(fig, key=f"profile_{key}", width="stretch")
    g = [f for f in findings if f.code.startswith("G")]
    st.subheader(f"Guidelines on measured times: {len(g)} finding(s)")
    for f in g:
        st.markdown(f"**{_md(f.code)}** ({f.severity}) — {_md(f.message)}")
        st.caption(f"evidence: {_md(f.evidence)} — fix: {_md(f.fix)}")

"""Figures of experiments: bands of replications, sweeps, Sobol bars, Morris plane.

All functions return a matplotlib Figure (Agg backend); :func:`save_figure`
writes it atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .. import plotting  # noqa: F401 - selects the Agg backend
import matplotlib.pyplot as plt  # noqa: E402

REPORT_COLUMNS = ["adoption_rate", "online_need_share", "adoption_rural", "adoption_elderly", "exclusion_rate",
                  "time_per_need"]


def save_figure(fig, folder: str | Path, name: str, dpi: int = 100) -> Path:
    """Save ``fig`` as ``folder/name`` (PNG) via a temporary file; close it."""
    folder = Path(folder)
    from .store import _mkstemp

    fd, tmp = _mkstemp(folder, name)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, format="png")
        os.replace(tmp, folder / name)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return folder / name


def report_columns(columns) -> list[str]:
    """The columns a figure shows: the usual report columns present, else the first four."""
    cols = [c for c in REPORT_COLUMNS if c in columns]
    return cols or [c for c in columns if c != "step"][:4]


def bands_figure(bands: pd.DataFrame, title: str = ""):
    """Mean and 95 % band over time of the report columns (one panel each)."""
    from ..plotting import plot_bands

    base = [c[:-5] for c in bands.columns if c.endswith("_mean")]
    cols = report_columns(base)
    group = "arm" if "arm" in bands else "point"
    return plot_bands(bands, cols, title=title, group=group)


def sweep_figure(summary: pd.DataFrame, design_columns: list[str], outputs: list[str], title: str = ""):
    """Final values (mean and 95 % interval over replicates) against the swept parameters.

    One panel per output. With a numeric first key, its values are the x
    axis and each combination of the other keys a line (up to 8); otherwise
    the points are shown in design order.
    """
    outputs = outputs[:6]
    ncol = 2 if len(outputs) > 1 else 1
    nrow = (len(outputs) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 3.4 * nrow), squeeze=False, constrained_layout=True)
    x = design_columns[0] if design_columns else None
    numeric = x is not None and pd.api.types.is_numeric_dtype(summary[x]) and not pd.api.types.is_bool_dtype(
        summary[x])
    others = design_columns[1:]
    for ax, out in zip(axes.flat, outputs):
        s = summary[summary["output"] == out]
        if numeric:
            groups = list(s.groupby(others, sort=False)) if others else [((), s)]
            if len(groups) > 8:
                ax.scatter(s[x], s["mean"], s=8)
            else:
                for key, g in groups:
                    g = g.sort_values(x)
                    key = key if isinstance(key, tuple) else (key,)
                    label = ", ".join(f"{k}={v}" for k, v in zip(others, key)) or None
                    ax.errorbar(g[x], g["mean"], yerr=[g["mean"] - g["ci_low"], g["ci_high"] - g["mean"]],
                                marker="o", ms=3, capsize=2, label=label)
                if others:
                    ax.legend(fontsize=7)
            ax.set_xlabel(x)
        else:
            ax.errorbar(np.arange(len(s)), s["mean"], yerr=[s["mean"] - s["ci_low"], s["ci_high"] - s["mean"]],
                        fmt="o", ms=3, capsize=2)
            ax.set_xlabel("design point")
        ax.set_title(out, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(outputs):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return fig


def sobol_figure(indices: pd.DataFrame, output: str, title: str = ""):
    """Bar chart of first-order and total indices with intervals and the noise floor.

    ``indices`` is the table of :func:`govsim.experiments.sa.analyse` (rows of
    one output); bars of indices not above the floor are hatched; the dummy
    parameter is grey; dashed lines mark the floor of each index.
    """
    d = indices[(indices["output"] == output) & indices["index"].isin(["S1", "ST"])]
    params = list(dict.fromkeys(d["parameter"]))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(params) + 2.5), 3.6), constrained_layout=True)
    width = 0.38
    xs = np.arange(len(params))
    colours = {"S1": "#4477aa", "ST": "#ee6677"}
    for k, (name, off) in enumerate((("S1", -width / 2), ("ST", width / 2))):
        g = d[d["index"] == name].set_index("parameter").reindex(params)
        for j, p in enumerate(params):
            row = g.loc[p]
            dummy = bool(row["is_dummy"])
            above = bool(row["above_floor"]) if pd.notna(row["above_floor"]) else True
            ax.bar(xs[j] + off, row["value"], width, yerr=row["conf"], capsize=3,
                   color="#bbbbbb" if dummy else colours[name], hatch=None if (above or dummy) else "//",
                   edgecolor="black", linewidth=0.5)
        # legend entry drawn apart from the bars, which may be hatched or grey
        ax.bar([np.nan], [np.nan], width, color=colours[name], edgecolor="black", linewidth=0.5, label=name)
        floor = g["floor"].dropna()
        if len(floor):
            ax.axhline(float(floor.iloc[0]), color=colours[name], linestyle="--", linewidth=1,
                       label=f"{name} noise floor")
    ax.set_xticks(xs, params, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("Sobol index")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title or f"Sobol indices of {output} (hatched: not above the noise floor)", fontsize=9)
    return fig


def morris_figure(indices: pd.DataFrame, output: str, title: str = ""):
    """Morris mu*–sigma plane with mu* intervals; the dummy and the noise floor marked."""
    d = indices[indices["output"] == output]
    mu = d[d["index"] == "mu_star"].set_index("parameter")
    sig = d[d["index"] == "sigma"].set_index("parameter")
    fig, ax = plt.subplots(figsize=(5.6, 4.2), constrained_layout=True)
    for p in mu.index:
        dummy = bool(mu.loc[p, "is_dummy"])
        above = bool(mu.loc[p, "above_floor"]) if pd.notna(mu.loc[p, "above_floor"]) else True
        colour = "#999999" if dummy else ("#4477aa" if above else "#cc9999")
        ax.errorbar(mu.loc[p, "value"], sig.loc[p, "value"], xerr=mu.loc[p, "conf"], fmt="o",
                    color=colour, capsize=3)
        ax.annotate(p, (mu.loc[p, "value"], sig.loc[p, "value"]), fontsize=7, xytext=(4, 3),
                    textcoords="offset points")
    floor = mu["floor"].dropna()
    if len(floor):
        ax.axvspan(0, float(floor.iloc[0]), color="#dddddd", alpha=0.6, label="mu* noise floor")
        ax.legend(fontsize=7)
    lim = max(float(mu["value"].max() + mu["conf"].max()), float(sig["value"].max()), 1e-12) * 1.1
    ax.plot([0, lim], [0, lim], color="black", linewidth=0.5, linestyle=":")
    ax.set_xlim(0, lim)
    ax.set_ylim(0, lim)
    ax.set_xlabel("mu* (mean |elementary effect|)")
    ax.set_ylabel("sigma (sd of elementary effects)")
    ax.grid(alpha=0.3)
    ax.set_title(title or f"Morris screening of {output}", fontsize=9)
    return fig

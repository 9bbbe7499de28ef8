"""Figures from results tables (matplotlib, headless-safe)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # noqa: E402 - figures are written to files, never shown
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .citizens import AGE_GROUPS  # noqa: E402

SUMMARY_PANELS = (
    ("Adoption by place", ["adoption_rate", "adoption_urban", "adoption_rural"]),
    ("Adoption by age", [f"adoption_{g}" for g in AGE_GROUPS]),
    ("Awareness and online needs", ["aware_rate", "online_need_share"]),
    ("Literacy, trust, satisfaction", ["mean_literacy", "mean_trust", "mean_satisfaction"]),
)


def plot_summary(df: pd.DataFrame, title: str = ""):
    """Four panels of one run's results over time; returns the Figure."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True, constrained_layout=True)
    for ax, (name, cols) in zip(axes.flat, SUMMARY_PANELS, strict=True):
        drawn = [c for c in cols if c in df]  # a run may collect only some columns (scenario.outputs)
        for c in drawn:
            ax.plot(df["step"], df[c], label=c)
        ax.set_title(name)
        ax.set_ylim(-0.02, 1.02)
        if drawn:
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("step (month)")
    if title:
        fig.suptitle(title)
    return fig


def plot_bands(bands: pd.DataFrame, columns: list[str], title: str = "", group: str = "arm"):
    """Mean with 95 % band over time for each group, one panel per column."""
    ncol = 2 if len(columns) > 1 else 1
    nrow = (len(columns) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 3.4 * nrow), squeeze=False, constrained_layout=True)
    for ax, c in zip(axes.flat, columns):
        for key, g in bands.groupby(group, sort=False):
            line, = ax.plot(g["step"], g[f"{c}_mean"], label=str(key))
            ax.fill_between(g["step"], g[f"{c}_lo"], g[f"{c}_hi"], color=line.get_color(), alpha=0.2, linewidth=0)
        ax.set_title(c)
        ax.set_xlabel("step (month)")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(columns):]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig

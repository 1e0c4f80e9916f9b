"""Evaluation plots as matplotlib figures (object API, no pyplot state; PNG output through Agg).

Each ``*_figure`` function is pure: data in, :class:`matplotlib.figure.Figure` out. :func:`png_bytes`,
:func:`save_png` and :func:`png_base64` render, write or embed them.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from radclass.evaluate.calibration import RiskCoverage
from radclass.evaluate.curves import PRCurve, ROCCurve

__all__ = [
    "confusion_matrix_figure",
    "importance_figure",
    "png_base64",
    "png_bytes",
    "pr_figure",
    "reliability_figure",
    "risk_coverage_figure",
    "roc_figure",
    "save_png",
]

_DPI = 110


def png_bytes(fig: Figure, dpi: int = _DPI) -> bytes:
    """``fig`` rendered as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def save_png(fig: Figure, path: Path | str, dpi: int = _DPI) -> Path:
    """Write ``fig`` as PNG and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(fig, dpi))
    return path


def png_base64(fig: Figure | bytes, dpi: int = _DPI) -> str:
    """``fig`` (or already rendered PNG bytes) as base64 text for ``<img src="data:image/png;base64,...">``."""
    data = fig if isinstance(fig, bytes) else png_bytes(fig, dpi)
    return base64.b64encode(data).decode("ascii")


def _square_axes(fig: Figure, xlabel: str, ylabel: str, title: str):
    ax = fig.add_subplot()
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel=xlabel, ylabel=ylabel, title=title)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    return ax


def confusion_matrix_figure(
    matrix: pd.DataFrame, *, normalized: bool = False, title: str = "Confusion matrix"
) -> Figure:
    """Heat map of a confusion matrix (rows = truth, columns = prediction) with each cell's value written in."""
    n_rows, n_cols = matrix.shape
    size = max(4.0, 0.55 * max(n_rows, n_cols) + 2)
    fig = Figure(figsize=(size + 1, size))
    ax = fig.add_subplot()
    values = matrix.to_numpy(dtype=float)
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalized else max(values.max(), 1))
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(n_cols), labels=list(matrix.columns), rotation=60, ha="right")
    ax.set_yticks(range(n_rows), labels=list(matrix.index))
    ax.set(xlabel="predicted", ylabel="true", title=title)
    threshold = (1 if normalized else values.max()) / 2
    fontsize = 12 if max(n_rows, n_cols) <= 4 else 9 if max(n_rows, n_cols) <= 8 else 7
    for (i, j), v in np.ndenumerate(values):
        if v or not normalized:
            text = f"{v:.2f}" if normalized else f"{int(v)}"
            ax.text(
                j, i, text, ha="center", va="center", fontsize=fontsize, color="white" if v > threshold else "black"
            )
    return fig


def roc_figure(curves: Sequence[ROCCurve], *, title: str = "ROC") -> Figure:
    """ROC curves with AUC [DeLong 95% CI] in the legend and, where computed, the bootstrap sensitivity band."""
    fig = Figure(figsize=(6, 6))
    ax = _square_axes(fig, "1 − specificity (false-positive rate)", "sensitivity (true-positive rate)", title)
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    for curve in curves:
        label = f"{curve.label} {curve.auc:.3f} [{curve.auc_ci[0]:.3f}, {curve.auc_ci[1]:.3f}]"
        (line,) = ax.plot(curve.fpr, curve.tpr, lw=1.5, label=label)
        if curve.band_fpr is not None:
            ax.fill_between(curve.band_fpr, curve.band_low, curve.band_high, color=line.get_color(), alpha=0.2, lw=0)
    if curves:
        ax.legend(loc="lower right", fontsize=7, title="AUC [95% CI]", title_fontsize=7)
    return fig


def pr_figure(curves: Sequence[PRCurve], *, title: str = "Precision–recall") -> Figure:
    """Precision–recall curves with average precision in the legend and each class's prevalence (no-skill line)."""
    fig = Figure(figsize=(6, 6))
    ax = _square_axes(fig, "recall (sensitivity)", "precision", title)
    for curve in curves:
        label = f"{curve.label} AP {curve.average_precision:.3f}"
        (line,) = ax.step(curve.recall, curve.precision, where="post", lw=1.5, label=label)
        ax.axhline(curve.prevalence, color=line.get_color(), ls=":", lw=0.8)
    if curves:
        ax.legend(loc="lower left", fontsize=7)
    return fig


def reliability_figure(table: pd.DataFrame, *, ece: float | None = None, title: str = "Reliability") -> Figure:
    """Reliability diagram: observed frequency per confidence bin against the diagonal, counts underneath."""
    fig = Figure(figsize=(6, 7))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    centres = (table["bin_low"] + table["bin_high"]) / 2
    width = float((table["bin_high"] - table["bin_low"]).iloc[0]) if len(table) else 0.1
    top.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8, label="perfect calibration")
    used = table["count"] > 0
    top.bar(centres[used], table["frequency"][used], width=width * 0.9, alpha=0.7, edgecolor="black", label="observed")
    top.plot(table["confidence"][used], table["frequency"][used], "o-", color="black", ms=3, lw=0.8, label="bin mean")
    top.set(
        xlim=(0, 1),
        ylim=(0, 1),
        ylabel="observed frequency",
        title=title if ece is None else f"{title} (ECE {ece:.3f})",
    )
    top.legend(loc="upper left", fontsize=7)
    bottom.bar(centres, table["count"], width=width * 0.9, color="grey")
    bottom.set(xlabel="predicted probability / confidence", ylabel="cases")
    return fig


def risk_coverage_figure(curves: Mapping[str, RiskCoverage], *, title: str = "Risk–coverage") -> Figure:
    """Risk–coverage curves (error among accepted cases against share accepted), operating points marked."""
    fig = Figure(figsize=(6, 5))
    ax = fig.add_subplot()
    for name, rc in curves.items():
        (line,) = ax.step(rc.coverage, rc.risk, where="post", lw=1.5, label=f"{name} AURC {rc.aurc:.3f}")
        ax.plot(*rc.operating_point, "o", color=line.get_color(), ms=6)
    ax.set(
        xlim=(0, 1.01),
        ylim=(0, None),
        xlabel="coverage (share of cases decided)",
        ylabel="risk (error rate among decided)",
        title=title,
    )
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize=7, title="● own abstention point", title_fontsize=7)
    return fig


def importance_figure(
    names: Sequence[str],
    values: Sequence[float] | np.ndarray,
    *,
    errors: Sequence[float] | None = None,
    top: int = 20,
    title: str = "Feature importance",
    xlabel: str = "importance",
) -> Figure:
    """Horizontal bar plot of the ``top`` largest importances (largest at the top)."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(-np.abs(values))[:top][::-1]
    fig = Figure(figsize=(6, 0.3 * len(order) + 1.2))
    ax = fig.add_subplot()
    err = None if errors is None else np.asarray(errors, dtype=float)[order]
    ax.barh(np.arange(len(order)), values[order], xerr=err, color="tab:blue")
    ax.set_yticks(np.arange(len(order)), labels=[names[i] for i in order], fontsize=8)
    ax.set(xlabel=xlabel, title=title)
    ax.grid(axis="x", alpha=0.3)
    return fig

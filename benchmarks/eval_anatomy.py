"""Measure the anatomy gate on the pool's MR series against MANIFEST.csv ``anatomy``; print Markdown tables.

    .venv/bin/python benchmarks/eval_anatomy.py

Rows: every MR image row of the manifest (masks and PNG slices left out), brain versus the body regions.
Tables: the whole gate (header -> rules -> pixels) and the pixel measure alone on series with usable pixels
(``pixels_usable == 1``), plus the time the pixel stage takes.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from radclass.anatomy.gate import AnatomyGate
from radclass.config import data_root
from radclass.pipeline.scan import scan


def _markdown(table: pd.DataFrame) -> str:
    """A crosstab as a Markdown table (index levels first)."""
    flat = table.reset_index()
    head = [str(c) for c in flat.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in flat.itertuples(index=False)]
    return "\n".join(lines)


def _decision_label(anatomy: str | None) -> str:
    if anatomy is None:
        return "undecided"
    return {"BRAIN": "brain", "UNKNOWN": "undecided"}.get(anatomy, "non-brain")


def main() -> None:
    root = data_root()
    manifest = pd.read_csv(root / "MANIFEST.csv", dtype=str, keep_default_na=False)
    rows = manifest[(manifest["modality"] == "MR") & ~manifest["series_description"].str.startswith("MASK")
                    & (manifest["format"] != "png")]
    result = scan([root / "mri", root / "liver" / "totalseg" / "example_mr_sm.nii.gz"], workers=1)
    by_path: dict[str, list] = {}
    for s in result.series:
        by_path.setdefault(Path(s.path).relative_to(root).as_posix(), []).append(s)
    gate = AnatomyGate()
    out = []
    pixel_seconds = 0.0
    for _, m in rows.iterrows():
        found = by_path.get(m["relpath"]) or next(
            (v for k, v in by_path.items() if k.startswith(m["relpath"] + "/")), None)
        if not found:
            continue
        s = found[0]
        decision = gate.decide(s)
        start = time.perf_counter()
        pixels = gate.from_pixels(s)
        pixel_seconds += time.perf_counter() - start
        out.append({"truth": m["anatomy"], "format": s.format, "usable": m["pixels_usable"] == "1",
                    "gate": _decision_label(decision.anatomy.value), "source": decision.source.value or "-",
                    "pixels": _decision_label(None if pixels is None else pixels.anatomy.value)})
    df = pd.DataFrame(out)
    df["truth"] = df["truth"].where(df["truth"] == "brain", "non-brain (" + df["truth"] + ")")
    print(f"## Anatomy gate on {len(df)} pool MR series\n")
    print(_markdown(pd.crosstab([df["truth"], df["format"]], df["gate"])))
    print("\nDeciding stage:\n")
    print(_markdown(pd.crosstab(df["truth"] == "brain", df["source"])
                    .rename(index={True: "brain", False: "non-brain"})))
    usable = df[df["usable"]]
    print(f"\n## Pixel measure alone, {len(usable)} series with usable pixels\n")
    print(_markdown(pd.crosstab([usable["truth"], usable["format"]], usable["pixels"])))
    print(f"\nPixel stage: {pixel_seconds:.1f} s for {len(df)} series "
          f"({1000 * pixel_seconds / max(len(df), 1):.0f} ms per series, 5 slices each).")


if __name__ == "__main__":
    main()

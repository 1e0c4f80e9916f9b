"""``radclass demo``: a synthetic study, annotated, with the agreement printed."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from radclass.config import BUNDLED_DIR

BUNDLE_READY = (BUNDLED_DIR / "mri-series" / "bundle.json").exists()


def _pipeline():
    try:
        from radclass.pipeline import annotate  # noqa: F401
        from radclass.outputs.tables import write_table  # noqa: F401
    except ImportError:
        pytest.skip("annotation pipeline not available")


def test_demo_with_a_stand_in_annotator(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plumbing: truth, annotations and the agreement table, with an annotator that reads the truth back."""
    _pipeline()
    import radclass.pipeline.annotate as annotate

    def fake_annotate_paths(paths, *, slices=5, progress=True, **_):
        truth = pd.read_csv(tmp_path / "demo" / "truth.csv")
        rows = truth[["path", "series_uid", "sequence", "orientation", "contrast"]].copy()
        rows.loc[0, "sequence"] = "OTHER"  # one disagreement
        return rows.assign(confidence=0.9, status="ok")

    monkeypatch.setattr(annotate, "annotate_paths", fake_annotate_paths)
    result = run_cli("demo", tmp_path / "demo", "--max-slices", "3", "-q")
    assert result.exit_code == 0, result.output
    truth = pd.read_csv(tmp_path / "demo" / "truth.csv")
    assert len(truth) >= 8 and truth.sequence.nunique() >= 6 and truth.orientation.nunique() >= 2
    assert (tmp_path / "demo" / "annotations.csv").is_file()
    assert f"sequence agreement: {len(truth) - 1}/{len(truth)}" in result.output
    assert f"orientation agreement: {len(truth)}/{len(truth)}" in result.output


@pytest.mark.slow
@pytest.mark.skipif(not BUNDLE_READY, reason="bundled mri-series model not built")
def test_demo_end_to_end(tmp_path: Path, run_cli) -> None:
    _pipeline()
    result = run_cli("demo", tmp_path / "demo", "--max-slices", "6", "-q")
    assert result.exit_code == 0, result.output
    annotations = pd.read_csv(tmp_path / "demo" / "annotations.csv")
    assert len(annotations) >= 8
    assert "sequence agreement" in result.output

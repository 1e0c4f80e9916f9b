"""Header features: unique names, and synthetic training rows shaped like real scan rows."""

from __future__ import annotations

import numpy as np
import pytest

from radclass.features.header import feature_names, header_matrix
from radclass.io.series import HEADER_COLUMNS
from radclass.training.synthetic_headers import synthetic_rows


def test_feature_names_are_unique():
    names = feature_names()
    assert len(names) == len(set(names))
    assert header_matrix([{"modality": "MR"}]).shape == (1, len(names))


def test_synthetic_rows_have_the_fields_of_real_rows(pool_scan):
    real = next(s.row() for s in pool_scan.series if s.format == "dicom" and s.header.get("modality") == "MR")
    rows, _ = synthetic_rows(2, seed=0, blank_fields=False)
    for row in rows:
        assert set(HEADER_COLUMNS) <= set(row), sorted(set(HEADER_COLUMNS) - set(row))
        assert {"n_frames"} <= set(row)
    assert set(HEADER_COLUMNS) <= set(real)
    # The echo feature is filled as in real single-echo series (it was always -1 in synthetic rows).
    i = feature_names().index("n_echoes")
    assert np.all(header_matrix(rows)[:, i] == 1.0)
    assert header_matrix([real])[0, i] >= 1.0


def test_bundle_feature_names_pick_columns_by_name():
    rows = [{"modality": "MR", "scan_options": "PFF\\FS", "repetition_time": 2000, "echo_time": 90}]
    names = feature_names()
    old = names[: names.index("so_FILTERED") + 1] + ["so_PFF"] + names[names.index("so_FILTERED") + 1:]
    X = header_matrix(rows, old)  # an older bundle's list named so_PFF twice
    assert X.shape == (1, len(old))
    assert X[0, old.index("so_FILTERED") + 1] == X[0, old.index("so_PFF")] == 1.0
    with pytest.raises(ValueError, match="does not compute"):
        header_matrix(rows, ["no_such_feature"])

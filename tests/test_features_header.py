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


def test_scan_option_and_sequence_name_features_on_pool_rows(pool_scan):
    """so_* is "an option starts with the prefix", sn_* "the pattern is found in the lower-case sequence name",
    on the pool's rows (with and without options and names) and on made-up ones."""
    import re

    from radclass.features.header import SCAN_OPTION_PREFIXES, SEQUENCE_NAME_PATTERNS, header_features

    names = feature_names()
    rows = [s.row() for s in pool_scan.series]
    rows += [{"scan_options": "FS\\PFP, SAT1", "sequence_name": "*TFL3D1_16"}, {"sequence_name": "ep_b1000"}, {}]
    with_options = with_name = 0
    for row in rows:
        feats = dict(zip(names, header_features(row)))
        options = [t.strip().upper() for t in re.split(r"[\\,]", str(row.get("scan_options") or "")) if t.strip()]
        name = str(row.get("sequence_name") or "").lower()
        for p in SCAN_OPTION_PREFIXES:
            assert feats[f"so_{p}"] == float(any(o.startswith(p) for o in options))
        for key, pattern in SEQUENCE_NAME_PATTERNS:
            assert feats[f"sn_{key}"] == float(bool(name) and re.search(pattern, name) is not None)
        with_options += bool(options)
        with_name += bool(name)
    assert with_options >= 20 and with_name >= 20 and len(rows) - with_options >= 20

"""The SQLite index: idempotent upserts, skipped files, corrections and their export."""

from __future__ import annotations

import csv
import time

import numpy as np
import pandas as pd
import pytest

from radclass.outputs.sqlite_index import (
    EXPORT_COLUMNS, add_correction, export_corrections, get_series, read_corrections, read_series,
    read_skipped, series_key, upsert_series,
)


def _row(uid: str, sub: str = "", **over) -> dict:
    row = {
        "path": f"/data/{uid}", "series_uid": uid, "sub_series": sub, "n_files": 3, "modality": "MR",
        "manufacturer": "ACME", "series_description": "t1_mprage", "sequence": "T1", "orientation": "SAG",
        "contrast": "pre", "confidence": 0.91, "status": "ok", "reason": "", "flags": "",
        "bids_suffix": "T1w", "model_version": "m1", "p_T1": 0.91, "p_T2": 0.09, "study_uid": "1.2.3",
        "files": f"/data/{uid}/1.dcm;/data/{uid}/2.dcm;/data/{uid}/3.dcm",
    }
    row.update(over)
    return row


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame([
        _row("1.2.3.4"),
        _row("1.2.3.5", sub="2", sequence="UNKNOWN", status="unknown", confidence=0.3, flags="low_confidence"),
        _row("1.2.3.5", sub="1", sequence="T2"),
        {**_row(""), "path": "/data/readme.txt", "series_uid": None, "status": "skipped", "reason": "not DICOM"},
        {**_row(""), "path": "/data/broken.dcm", "series_uid": "", "status": "error", "reason": "truncated"},
        _row("1.2.3.9", modality="CT", status="skipped", reason="not MR", sequence=""),
    ])


def test_upsert_is_idempotent(tmp_path, table):
    db = tmp_path / "index.sqlite"
    assert upsert_series(db, table) == 6
    first = read_series(db)
    assert list(first["series_key"]) == ["1.2.3.4", "1.2.3.5#2", "1.2.3.5#1", "1.2.3.9"]
    assert {"p_T1", "p_T2", "files", "study_uid"} <= set(first.columns)
    time.sleep(0.01)
    upsert_series(db, table)
    second = read_series(db)
    assert len(second) == 4
    same = [c for c in first.columns if c != "updated_at"]
    pd.testing.assert_frame_equal(first[same], second[same])
    assert (second["updated_at"] > first["updated_at"]).all()
    skipped = read_skipped(db)
    assert list(skipped["path"]) == ["/data/broken.dcm", "/data/readme.txt"]
    assert list(skipped["reason"]) == ["truncated", "not DICOM"]


def test_new_values_and_columns_update_in_place(tmp_path, table):
    db = tmp_path / "index.sqlite"
    upsert_series(db, table)
    ids = dict(zip(read_series(db)["series_key"], read_series(db)["id"]))
    changed = pd.DataFrame([_row("1.2.3.4", sequence="T1C", p_T1C=0.8, gradcam_png="/tmp/cam.png",
                                 pixel_spacing=np.array([0.5, 0.5]), b_values=[0, 1000], n_frames=np.int64(1))])
    upsert_series(db, changed)
    rows = read_series(db).set_index("series_key")
    assert rows.loc["1.2.3.4", "sequence"] == "T1C"
    assert rows.loc["1.2.3.4", "gradcam_png"] == "/tmp/cam.png"
    assert rows.loc["1.2.3.4", "p_T1C"] == pytest.approx(0.8)
    assert (rows.loc["1.2.3.4", "pixel_spacing"], rows.loc["1.2.3.4", "b_values"]) == ("0.5;0.5", "0;1000")
    assert pd.isna(rows.loc["1.2.3.5#1", "p_T1C"])
    assert rows["id"].to_dict() == ids  # ids are stable across upserts
    assert get_series(db, ids["1.2.3.4"])["sequence"] == "T1C"
    assert get_series(db, 999) is None


def test_series_key():
    assert series_key("1.2", "") == "1.2"
    assert series_key("1.2", None) == "1.2"
    assert series_key("1.2", "3") == "1.2#3"


def test_corrections_and_export(tmp_path, table):
    db = tmp_path / "index.sqlite"
    upsert_series(db, table)
    first = add_correction(db, "1.2.3.5#2", "sequence", "FLAIR", "dr. a", time="2026-01-01T10:00:00")
    assert (first["old"], first["new"]) == ("UNKNOWN", "FLAIR")
    second = add_correction(db, "1.2.3.5#2", "sequence", "T2", "dr. b", time="2026-01-01T11:00:00")
    assert second["old"] == "FLAIR"
    add_correction(db, "1.2.3.5#2", "orientation", "AX", "dr. a", time="2026-01-01T10:30:00")
    assert len(read_corrections(db)) == 3
    with pytest.raises(ValueError):
        add_correction(db, "1.2.3.4", "sequence", "NOT_A_CLASS", "dr. a")
    with pytest.raises(ValueError):
        add_correction(db, "1.2.3.4", "path", "/etc/passwd", "dr. a")
    with pytest.raises(ValueError):
        add_correction(db, "1.2.3.4", "contrast", "post", "  ")
    with pytest.raises(KeyError):
        add_correction(db, "9.9.9", "sequence", "T1", "dr. a")

    out = tmp_path / "labels.csv"
    assert export_corrections(db, out) == 1
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert rows[0] == {
        "path": "/data/1.2.3.5", "series_uid": "1.2.3.5", "sub_series": "2", "sequence": "T2", "orientation": "AX",
        "contrast": "pre", "group": "1.2.3",
    }


def test_review_state_follows_the_log_and_is_rebuilt_for_old_indexes(tmp_path, table):
    """The trigger-kept review state equals what the append-only log says, also for an index written before
    the state table existed (filled from the log on first open)."""
    import sqlite3

    from radclass.outputs.sqlite_index import (
        CORRECTABLE, current_labels, query_series, review_counts, save_review,
    )

    db = tmp_path / "index.sqlite"
    upsert_series(db, table)
    keys = list(read_series(db)["series_key"])
    rng = np.random.default_rng(1)
    for i in range(30):
        key = keys[i % len(keys)]
        field = list(CORRECTABLE)[int(rng.integers(3))]
        value = str(rng.choice(CORRECTABLE[field]))
        save_review(db, key, {field: value}, f"r{i % 2}", record_unchanged=bool(i % 2))

    def state() -> dict:
        rows, _ = query_series(db, limit=1000)
        return {r["series_key"]: ({f: r[f"cur_{f}"] for f in CORRECTABLE}, r["reviewed"], r["corrected"],
                                  r["last_reviewer"]) for r in rows}

    before = state()
    log = current_labels(db)
    corrections = read_corrections(db)
    for key, (labels, reviewed, corrected, last) in before.items():
        assert reviewed == (key in log)
        for field, value in labels.items():
            if key in log and field in log[key]:
                assert value == log[key][field]["new"]
        mine = corrections[corrections["series_key"] == key]
        assert corrected == bool((mine["old"] != mine["new"]).any())
        assert last == (mine["reviewer"].iloc[-1] if len(mine) else None)
    counts = review_counts(db)
    with sqlite3.connect(db) as con:  # what an index written before the review state looks like
        con.execute("DROP TRIGGER corrections_review_state")
        con.execute("DROP TABLE review_state")
    assert state() == before and review_counts(db) == counts

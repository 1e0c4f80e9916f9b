"""Training on a user's archive: rules -> review corrections -> ``train --labels --max-minutes`` -> annotate ->
evaluate, end to end on a labelled folder that is not the pool, and a fine-tune measured against its base."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from radclass.config import BUNDLED_DIR

#: Series of three pool datasets copied into a fresh "archive" (Siemens XA30, GE, Siemens heudiconv).
ARCHIVE = {
    "dcm_qa_xa30": ["5_anat-T1w_acq-tfl", "6_anat-T1w_acq-tfl", "7_func-bold_task-fa_run-1", "8_gre_field_mapping",
                    "9_gre_field_mapping", "12_DWI_dir80_PA", "20_DWI_dir80_AP", "25_asl_2d_tra", "27_asl_2d_tra"],
    "dcm_qa_ge": ["01_Ax_DWI_TENSOR_R2", "02_Ax_DWI_TENSOR_R3", "05_3D_Ax_T1_MP_RAGE_R22",
                  "SliceTimingMPh_2_fMRI_Multiphase_Des", "SliceTimingMPh_3_fMRI_Multiphase_Des_0.35Delay",
                  "SliceTiming_2_Ax_fMRI_HB8_72sl_int_asc", "SliceTiming_3_Ax_fMRI_HB8_72sl_seq_asc",
                  "SliceTimingRT_2_epiRT_IntAsc_GD0", "SliceTimingRT_3_epiRT_IntAsc_GD33"],
    "heudiconv": ["01-fmap_acq-3mm", "b0dwiForFmap", "axasc35", "xa_4d_interrupted"],
    "dicom2nifti": ["anatomical_001"],  # no description: no rule labels it, and nobody reviews it
}

TINY = """[mri_series]
name = "site-model"
synthetic_headers_per_class = 20
simulated_series_per_class = 0
tune_forest = false
cnn_folds = 2
cnn_fold_epochs = 1
train_slices_per_series = 2
slices_per_series = 3
input_size = 64
test_fraction = 0.25
final_val_fraction = 0.25
refit_forest_on_all = true
[mri_series.cnn]
network = "multitask"
epochs = 100000  # far more than fit in --max-minutes on any machine: the time limit must stop it
steps_per_epoch = 3
batch_size = 16
early_stop = 100000  # never before the time limit
"""


@pytest.fixture(scope="module")
def archive(data_root, tmp_path_factory) -> Path:
    """A folder of copied real series (about 20 MB), laid out like a site's archive (not the pool's layout)."""
    root = tmp_path_factory.mktemp("archive")
    for dataset, names in ARCHIVE.items():
        for name in names:
            shutil.copytree(data_root / "mri" / "dicom" / dataset / name, root / f"site_{dataset}" / name)
    return root


def _labels_loop(archive: Path, tmp: Path, run_cli) -> tuple[Path, Path]:
    """rules -> annotate into an index -> a reviewer labels/corrects a few series -> review --export."""
    from radclass.outputs.sqlite_index import add_correction, read_series

    rules_csv = tmp / "rules.csv"
    result = run_cli("rules", archive, "--out", rules_csv, "-q")
    assert result.exit_code == 0, result.output
    db = tmp / "index.sqlite"
    result = run_cli("annotate", archive, "--out", tmp / "ann.csv", "--db", db, "-q")
    assert result.exit_code == 0, result.output
    series = read_series(db)
    key = {Path(p).name: k for p, k in zip(series["path"], series["series_key"])}
    # hand corrections: series no rule labels (slice-timing EPIs are BOLD), and one rule label overridden
    for name, seq in (("SliceTimingRT_2_epiRT_IntAsc_GD0", "BOLD"), ("SliceTimingRT_3_epiRT_IntAsc_GD33", "BOLD"),
                      ("axasc35", "BOLD"), ("b0dwiForFmap", "FIELDMAP")):
        add_correction(db, key[name], "sequence", seq, "reviewer-1")
    corrections = tmp / "corrections.csv"
    result = run_cli("review", "--db", db, "--export", corrections)
    assert result.exit_code == 0, result.output
    return rules_csv, corrections


@pytest.mark.skipif(not (BUNDLED_DIR / "mri-series" / "bundle.json").exists(), reason="bundled model not built")
def test_rules_review_train_annotate_evaluate_and_fine_tune(archive, tmp_path, run_cli):
    pytest.importorskip("torch")
    rules_csv, corrections = _labels_loop(archive, tmp_path, run_cli)
    exported = pd.read_csv(corrections, keep_default_na=False)
    assert list(exported.columns) == ["path", "series_uid", "sub_series", "sequence", "orientation", "contrast",
                                      "group"]
    assert len(exported) == 4
    # a row naming a series that is not there and one outside the vocabulary: reported by name, not dropped
    extra = tmp_path / "extra.csv"
    extra.write_text(f"path,sequence\n{archive}/site_gone/missing_series,T1\n"
                     f"{archive}/site_heudiconv/01-fmap_acq-3mm,NOT_A_CLASS\n")
    config = tmp_path / "tiny.toml"
    config.write_text(TINY)
    bundle = tmp_path / "site-model"
    result = run_cli("train", "--labels", rules_csv, "--labels", corrections, "--labels", extra,
                     "--config", config, "--max-minutes", "0.6", "--out", bundle, "-q")
    assert result.exit_code == 0, result.output
    assert "missing_series" in result.output and "no series found" in result.output
    assert "NOT_A_CLASS" in result.output and "not a class of the taxonomy" in result.output
    report = json.loads((bundle / "validation.json").read_text())
    reasons = {Path(e["name"]).name: e["reason"] for e in report["labels"]["excluded"]}
    assert "missing_series" in reasons and "01-fmap_acq-3mm" in reasons
    # every rules row without a label is accounted for by name
    rules_rows = pd.read_csv(rules_csv, keep_default_na=False)
    unlabelled = set(rules_rows.loc[rules_rows["sequence"] == "", "path"].map(lambda p: Path(p).name))
    corrected = {"SliceTimingRT_2_epiRT_IntAsc_GD0", "SliceTimingRT_3_epiRT_IntAsc_GD33", "axasc35"}
    assert "anatomical_001" in unlabelled - corrected
    assert unlabelled - corrected <= set(reasons) and "no sequence label" in reasons["anatomical_001"]
    # the time box stopped the 400-epoch recipe, and the model trained so far was exported
    history = report["final_cnn_history"]
    assert history[-1].get("stopped") == "time limit" and len(history) < 100000
    # an inner validation group (never a test group) drove the schedule and the choice of the exported epoch
    assert report["final_cnn_validation_groups"] and all("val_bal_acc" in r for r in history)
    assert not set(report["final_cnn_validation_groups"]) & set(json.loads((bundle / "bundle.json").read_text())[
        "test_groups"])
    # the corrections won over the rules
    meta = json.loads((bundle / "bundle.json").read_text())
    assert meta["test_groups"], "a test split of whole groups"
    test_preds = report["test"]["predictions"]
    dev_paths = {p["path"] for p in report["predictions"]}
    assert not dev_paths & {p["path"] for p in test_preds}, "no test series is seen by a choice"
    assert {p["group"] for p in test_preds} == set(meta["test_groups"])
    truth = {Path(p["path"]).name: p["truth"] for p in report["predictions"] + test_preds}
    assert truth["b0dwiForFmap"] == "FIELDMAP" and truth["axasc35"] == "BOLD"
    card = (bundle / "model_card.md").read_text()
    assert "## Test split" in card and "95% CI" in card and "Confusion matrix" in card
    assert "coverage" in card and "Per vendor" in card
    # the shipped forest was refit on every group after the single test measurement, and the card says so
    refit = report["forest_refit_on_all"]
    assert meta["forest_refit_on_all"] and set(meta["test_groups"]) <= set(refit["groups"])
    assert refit["series"] > refit["development_series"] > 0 and "refit on every group" in card

    # annotate the archive with the new bundle, and evaluate it against the labels
    ann = tmp_path / "new.csv"
    result = run_cli("annotate", archive, "--model", bundle, "--out", ann, "-q")
    assert result.exit_code == 0, result.output
    df = pd.read_csv(ann, keep_default_na=False)
    assert (df["model_version"].str.startswith("site-model")).any()
    truth_csv = tmp_path / "truth.csv"
    labels = pd.concat([rules_rows[rules_rows["sequence"] != ""][["path", "sequence"]],
                        exported[["path", "sequence"]]]).drop_duplicates("path", keep="last")
    labels.to_csv(truth_csv, index=False)
    result = run_cli("evaluate", ann, "--truth", truth_csv, "--report", tmp_path / "report", "--bootstrap", "0",
                     "--band", "0")
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output

    # fine-tune the bundled model on the same labels: measured against the base on the same test groups
    tuned = tmp_path / "tuned"
    result = run_cli("train", "--labels", rules_csv, "--labels", corrections, "--labels", extra, "--config", config,
                     "--init", "mri-series", "--max-minutes", "0.4", "--out", tuned, "-q")
    assert result.exit_code == 0, result.output
    tmeta = json.loads((tuned / "bundle.json").read_text())
    base_meta = json.loads((BUNDLED_DIR / "mri-series" / "bundle.json").read_text())
    assert tmeta["input_size"] == base_meta["input_size"] and tmeta["network"] == base_meta["network"]
    assert tmeta["test_groups"] == meta["test_groups"]
    treport = json.loads((tuned / "validation.json").read_text())
    assert treport["base_test"]["n"] == treport["test"]["n"] > 0
    assert 0 <= treport["test_vs_base"]["p_value"] <= 1
    # the shipped bundle has no forest_rows.npz (v3: ship_forest_rows = false): its synthetic rows are regenerated
    assert (bundle / "forest_rows.npz").exists() and "regenerated" in treport["forest_extra_rows"]
    tcard = (tuned / "model_card.md").read_text()
    assert "Base bundle" in tcard and "McNemar" in tcard and "Fine-tuned from" in tcard


def test_labels_table_errors_are_full_sentences(tmp_path):
    from radclass.training.labels import LabelsError, read_label_rows

    bad = tmp_path / "bad.csv"
    bad.write_text("name,label\nx,T1\n")
    with pytest.raises(LabelsError, match="needs a 'sequence' column"):
        read_label_rows([bad])
    with pytest.raises(LabelsError, match="does not exist"):
        read_label_rows([tmp_path / "none.csv"])


def test_later_tables_override_earlier_ones(tmp_path):
    from radclass.training.labels import read_label_rows

    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("path,series_uid,sub_series,sequence,rule\n/x/s1,1.2.3,,T1,t1\n/x/s2,1.2.4,,,\n")
    b.write_text("path,series_uid,sequence,orientation,contrast,group\n/x/s1,1.2.3,T1C,AX,post,p7\n")
    rows = {r.path: r for r in read_label_rows([a, b])}
    assert rows[os.path.realpath("/x/s1")].sequence == "T1C" and rows[os.path.realpath("/x/s1")].group == "p7"
    assert rows[os.path.realpath("/x/s2")].sequence == ""


def test_held_out_groups_are_whole_and_seeded():
    import numpy as np

    from radclass.training.split import group_folds, held_out_groups

    groups = np.array(["a"] * 5 + ["b"] * 5 + ["c"] * 5 + ["d"] * 5 + ["e"] * 5)
    held = held_out_groups(groups, 0.2, seed=3)
    assert len(held) == 1 and held == held_out_groups(groups, 0.2, seed=3)
    assert held_out_groups(groups[:10], 0.2) == []  # two groups: both needed for cross-validation
    folds = group_folds(groups, 2, seed=0)
    for g in "abcde":
        assert len(set(folds[groups == g])) == 1
    uneven = np.array(["big"] * 50 + ["mid"] * 30 + ["small"] * 20)
    assert held_out_groups(uneven, 0.1) == ["small"]  # no group fits 10%: the smallest, never the largest
    with pytest.raises(ValueError, match="test fraction"):
        held_out_groups(groups, 1.0)


def test_uid_only_tables_are_joined_to_a_scan_of_data_folders(data_root, tmp_path):
    from radclass.pipeline.scan import scan
    from radclass.training.labels import LabelsError, labelled_from_tables

    folder = data_root / "mri" / "dicom" / "dcm_qa_xa30"
    t1 = [s for s in scan([folder / "5_anat-T1w_acq-tfl", folder / "8_gre_field_mapping"], workers=1).series]
    table = tmp_path / "uids.csv"
    table.write_text("series_uid,sequence,group\n" + "".join(f"{s.series_uid},T1,p1\n" for s in t1[:1])
                     + "1.2.3.4.5.404,T2,p2\n")
    with pytest.raises(LabelsError, match="--data"):
        labelled_from_tables([table])
    got = labelled_from_tables([table], [folder / "5_anat-T1w_acq-tfl"])
    assert [(p.series.series_uid, p.sequence, p.dataset) for p in got.items] == [(t1[0].series_uid, "T1", "p1")]
    assert [e.reason for e in got.excluded] == ["no scanned series has SeriesInstanceUID 1.2.3.4.5.404"]


def test_train_refuses_a_bad_labels_table(tmp_path, run_cli):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,label\nx,T1\n")
    result = run_cli("train", "--labels", bad, "--out", tmp_path / "b")
    assert result.exit_code == 2 and "needs a 'sequence' column" in result.output
    assert not (tmp_path / "b").exists()
    good = tmp_path / "good.csv"
    good.write_text("path,sequence\n/nowhere/s1,T1\n")
    result = run_cli("train", "--labels", good, "--data", tmp_path, "--init", "no-such-bundle", "--out", tmp_path / "b",
                     "-q")
    assert result.exit_code == 2 and "no model bundle at no-such-bundle" in result.output


def test_kasmanoff25_labels_train_as_their_default_classes(data_root, tmp_path, run_cli):
    """A 25-class rules table (``rules --scheme kasmanoff25``) read with the scheme: every labelled row becomes a
    training series, labelled with the default class its 25-class label maps onto."""
    from radclass.rules import load_scheme
    from radclass.training.labels import labelled_from_tables

    folder = data_root / "mri" / "dicom" / "dcm_qa_xa30"
    table = tmp_path / "k25.csv"
    result = run_cli("rules", folder, "--scheme", "kasmanoff25", "--out", table, "-q")
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(table, keep_default_na=False)
    got = labelled_from_tables([table], scheme=load_scheme("kasmanoff25"))
    assert len(got.items) == (rows["sequence"] != "").sum() >= 15
    assert not [e for e in got.excluded if "is not a class" in e.reason]
    mapped = dict(zip(rows["path"] + "|" + rows["sub_series"], rows["sequence_default"]))
    assert all(p.sequence == mapped[f"{p.series.path}|{p.series.sub_series}"] for p in got.items)
    assert {"T1", "DWI", "PERFUSION"} <= {p.sequence for p in got.items}
    without = labelled_from_tables([table])  # read as default-class labels, the 25-class names are reported
    assert any("'T1_3D' is not a class of the taxonomy" in e.reason for e in without.excluded)


def test_train_accepts_25_class_labels_when_the_scheme_is_named(data_root, tmp_path, run_cli):
    folder = data_root / "mri" / "dicom" / "dcm_qa_xa30"
    table = tmp_path / "k25.csv"
    assert run_cli("rules", folder, "--scheme", "kasmanoff25", "--out", table, "-q").exit_code == 0
    # validation only: the missing --init bundle stops the run after the labels were read
    result = run_cli("train", "--labels", table, "--init", "no-such-bundle", "--out", tmp_path / "b", "-q")
    assert result.exit_code == 2 and "is not a class of the taxonomy" in result.output
    result = run_cli("train", "--labels", table, "--scheme", "kasmanoff25", "--init", "no-such-bundle",
                     "--out", tmp_path / "b", "-q")
    assert result.exit_code == 2 and "no model bundle at no-such-bundle" in result.output
    assert "left out" not in result.output
    result = run_cli("train", "--labels", table, "--scheme", "kasmanoff26", "--out", tmp_path / "b", "-q")
    assert result.exit_code == 2 and "There is no class scheme 'kasmanoff26'" in result.output
    assert not (tmp_path / "b").exists()

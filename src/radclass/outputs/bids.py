"""Link (or copy) annotated series into a BIDS-like tree with JSON sidecars holding the annotation.

Layout: ``sub-<S>/ses-<N>/<datatype>/sub-<S>_ses-<N>_run-<R>_<suffix>/`` for a DICOM series (its files
inside) or ``..._<suffix>.nii.gz`` for a NIfTI file, each with a ``.json`` sidecar. Subjects and sessions are
numbered from the StudyInstanceUID (the scan does not read patient identifiers). UNKNOWN and excluded classes
go under ``unsorted/``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from radclass.taxonomy import BIDS
from radclass.values import is_missing


def _clean(v: Any) -> Any:
    return None if is_missing(v) else v


def write_bids(df, root: Path, *, copy: bool = False) -> int:  # df: pandas.DataFrame of annotate rows
    """Write the tree for every annotated series row; returns the number of series placed."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    series = df[df["status"].isin(["ok", "unknown"])]
    sessions: dict[str, str] = {}
    runs: dict[tuple[str, str], int] = defaultdict(int)
    placed = 0
    for row in series.to_dict("records"):
        study = str(_clean(row.get("study_uid")) or "unknown")
        ses = sessions.setdefault(study, f"{len(sessions) + 1:02d}")
        entry = BIDS.get(str(row.get("sequence")))
        datatype, suffix = entry if entry else ("unsorted", str(row.get("sequence") or "UNKNOWN"))
        runs[(ses, suffix)] += 1
        stem = f"sub-01_ses-{ses}_run-{runs[(ses, suffix)]:02d}_{suffix}"
        folder = root / "sub-01" / f"ses-{ses}" / datatype
        folder.mkdir(parents=True, exist_ok=True)
        files = [f for f in str(row.get("files") or "").split(";") if f and not f.endswith(".json")]
        if row.get("format") == "nifti" and files:
            target = folder / (stem + (".nii.gz" if files[0].endswith(".gz") else ".nii"))
            _place(Path(files[0]), target, copy)
        else:
            target = folder / stem
            target.mkdir(exist_ok=True)
            for f in files:
                _place(Path(f), target / Path(f).name, copy)
        sidecar = {k: _clean(row.get(k)) for k in ("sequence", "orientation", "contrast", "confidence", "status",
                                                    "flags", "model_version", "series_uid", "path",
                                                    "series_description", "repetition_time", "echo_time",
                                                    "inversion_time", "flip_angle", "manufacturer")}
        (folder / f"{stem}.json").write_text(json.dumps(sidecar, indent=1, default=str))
        placed += 1
    return placed


def _place(src: Path, dst: Path, copy: bool) -> None:
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    if copy:
        shutil.copy2(src, dst)
    else:
        os.symlink(os.path.abspath(src), dst)

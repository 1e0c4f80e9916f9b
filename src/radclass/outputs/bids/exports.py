"""Exports for people who keep their converter: a dcm2bids config and a HeuDiConv heuristic.

Both are generated from the converted entries of the ledger and name every DICOM series as ``radclass bids``
did; neither tool is imported here (dcm2bids is GPL-3.0: radclass only writes a JSON file for it).

* dcm2bids (3.x): one description per image, matched on ``SidecarFilename``: the config asks dcm2niix to name
  its outputs after the SeriesInstanceUID (``-f %j``), so ``<uid><postfix>.json`` picks exactly one image.
  Run it once per session: ``dcm2bids -d DICOM_OF_SESSION -p SUB -s SES -c dcm2bids_config.json -o OUT``.
* HeuDiConv: ``infotodict`` maps each SeriesInstanceUID to its path template and ``infotoids`` gives the
  participant and session, so ``heudiconv --files ARCHIVE -f heuristic.py -c dcm2niix -b -o OUT`` needs no
  ``-s``/``-ss``. Series that dcm2niix splits into several images are written with HeuDiConv's own naming of
  multiple outputs (``magnitude`` -> ``magnitude1``/``magnitude2``, ``echo-``, ``part-``); a split that
  HeuDiConv cannot name like radclass is reported by :func:`heudiconv_heuristic` and left out of the file.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from radclass.outputs.bids.naming import Suffix

DCM2BIDS_DCM2NIIX_OPTIONS = "-b y -ba y -z y -f %j"


@dataclass(frozen=True)
class ExportedImage:
    """A converted DICOM image as the exports see it (from a ledger row)."""

    series_uid: str
    postfix: str
    participant: str
    session: str
    datatype: str
    stem: str

    @property
    def entities(self) -> list[str]:
        """The ``key-value`` parts of the stem other than sub/ses."""
        return [p for p in self.stem.split("_")[:-1] if not p.startswith(("sub-", "ses-"))]

    @property
    def suffix(self) -> str:
        return self.stem.rsplit("_", 1)[-1]


def exported_images(rows: Iterable[dict[str, str]]) -> list[ExportedImage]:
    """The DICOM images among converted ledger rows (NIfTI inputs have no DICOM to export)."""
    out = []
    for r in rows:
        if r.get("status") != "converted" or r["unit"].startswith("nifti:") or not r.get("bids_path"):
            continue
        datatype, stem = r["bids_path"].split("/")[-2:]
        out.append(ExportedImage(r["unit"], r["key"][len(r["unit"]) :], r["participant"], r["session"], datatype, stem))
    return sorted(out, key=lambda im: (im.participant, im.session, im.datatype, im.stem))


def dcm2bids_config(images: list[ExportedImage]) -> dict:
    """A dcm2bids 3 configuration reproducing the names of ``images``."""
    descriptions = []
    for im in images:
        desc: dict = {
            "datatype": im.datatype,
            "suffix": im.suffix,
            "criteria": {"SidecarFilename": f"{im.series_uid}{im.postfix}.json"},
        }
        if im.entities:
            desc["custom_entities"] = "_".join(im.entities)
        task = next((e[5:] for e in im.entities if e.startswith("task-")), None)
        if task:
            desc["sidecar_changes"] = {"TaskName": task}
        descriptions.append(desc)
    return {
        "dcm2niixOptions": DCM2BIDS_DCM2NIIX_OPTIONS,
        "search_method": "fnmatch",
        "case_sensitive": True,
        "dup_method": "run",
        "descriptions": descriptions,
    }


def _template(participant_dir: str, im: ExportedImage, stem: str) -> str:
    return f"sub-{{subject}}/{participant_dir}{im.datatype}/" + stem.replace(
        f"sub-{im.participant}", "sub-{subject}", 1
    ).replace(f"_ses-{im.session}", "_{session}", 1)


def _heudiconv_stem(images: list[ExportedImage]) -> str | None:
    """The one template stem whose HeuDiConv expansion gives the stems of ``images`` (one series), or None."""
    if len(images) == 1:
        return images[0].stem
    stems = sorted(im.stem for im in images)
    suffixes = sorted(im.suffix for im in images)
    if suffixes == [Suffix.MAGNITUDE1.value, Suffix.MAGNITUDE2.value]:
        base = stems[0].rsplit("_", 1)[0]
        if stems == [f"{base}_magnitude1", f"{base}_magnitude2"]:
            return f"{base}_magnitude"  # HeuDiConv appends 1, 2 to the outputs in order
    for entity in ("echo-", "part-"):
        stripped = {"_".join(p for p in s.split("_") if not p.startswith(entity)) for s in stems}
        if len(stripped) == 1 and all(entity in s for s in stems):
            return stripped.pop()  # HeuDiConv inserts echo-/part- itself
    return None


def heudiconv_heuristic(images: list[ExportedImage]) -> tuple[str, list[str]]:
    """The heuristic's Python source, and the SeriesInstanceUIDs it cannot reproduce (left out of it)."""
    by_uid: dict[str, list[ExportedImage]] = defaultdict(list)
    for im in images:
        by_uid[im.series_uid].append(im)
    series: dict[str, str] = {}
    ids: dict[str, tuple[str, str]] = {}
    left_out: list[str] = []
    for uid, ims in sorted(by_uid.items()):
        stem = _heudiconv_stem(ims)
        if stem is None:
            left_out.append(uid)
            continue
        first = ims[0]
        series[uid] = _template("{session}/" if first.session else "", first, stem)
        ids[uid] = (first.participant, first.session)
    lines = [
        '"""HeuDiConv heuristic written by `radclass bids`: names each series as radclass did.',
        "",
        "Run: heudiconv --files DICOM_DIR... -f heuristic.py -c dcm2niix -b -o OUT",
        '"""',
        "",
        "# SeriesInstanceUID -> BIDS path template",
        "SERIES = " + json.dumps(series, indent=4, sort_keys=True),
        "# SeriesInstanceUID -> (participant, session)",
        "IDS = " + json.dumps({k: list(v) for k, v in ids.items()}, indent=4, sort_keys=True),
        "",
        "",
        "def create_key(template, outtype=('nii.gz',), annotation_classes=None):",
        "    return template, outtype, annotation_classes",
        "",
        "",
        "def infotodict(seqinfo):",
        "    info = {}",
        "    for s in seqinfo:",
        "        template = SERIES.get(s.series_uid)",
        "        if template:",
        "            info.setdefault(create_key(template), []).append(s.series_id)",
        "    return info",
        "",
        "",
        "def infotoids(seqinfos, outdir):",
        "    for s in seqinfos:",
        "        if s.series_uid in IDS:",
        "            subject, session = IDS[s.series_uid]",
        "            return {'locator': None, 'session': session or None, 'subject': subject}",
        "    return {'locator': None, 'session': None, 'subject': 'unknown'}",
        "",
    ]
    return "\n".join(lines), left_out


def write_exports(root: Path, rows: Iterable[dict[str, str]]) -> tuple[Path, Path, list[str]]:
    """Write ``code/radclass/dcm2bids_config.json`` and ``code/radclass/heuristic.py`` into the dataset;
    returns their paths and the series the heuristic leaves out."""
    images = exported_images(rows)
    folder = Path(root) / "code" / "radclass"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "dcm2bids_config.json"
    config.write_text(json.dumps(dcm2bids_config(images), indent=2) + "\n")
    source, left_out = heudiconv_heuristic(images)
    heuristic = folder / "heuristic.py"
    heuristic.write_text(source)
    return config, heuristic, left_out

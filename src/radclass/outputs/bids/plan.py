"""The conversion plan: one typed entry per input series (or per image dcm2niix made of it).

Steps, each a function here:

1. :func:`build_units` groups the annotation rows into conversion units (one DICOM SeriesInstanceUID in one
   folder, or one NIfTI file) and turns away, with a reason, what cannot become BIDS (non-MR, errors, SCOUT /
   OTHER / UNKNOWN, derived maps, second copies of a series).
2. :func:`assign_sessions` gives every unit its ``sub-`` / ``ses-`` labels: PatientID and StudyDate from the
   DICOM header, or the user's mapping, or the labels already used in the dataset (the ledger).
3. :func:`name_images` names the images: entities implied by the labels, then ``dir-`` (phase-encoding
   direction), ``acq-`` (plane, 2D/3D) and finally ``run-`` only where two images would get the same name.
   Names already in the ledger are kept as they are, so re-runs never rename a file.

The ledger (``code/radclass/conversion.tsv`` in the dataset) records every input series with its BIDS path or
the reason it was skipped.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from radclass.outputs.bids.naming import (
    ALLOWED,
    Datatype,
    Entity,
    Suffix,
    Target,
    check_entities,
    clean_label,
    file_stem,
    target_for,
)
from radclass.taxonomy import Status
from radclass.values import as_number, as_text, is_missing

LEDGER = Path("code") / "radclass" / "conversion.tsv"
LEDGER_COLUMNS = (
    "key",
    "unit",
    "status",
    "bids_path",
    "reason",
    "sequence",
    "series_uid",
    "sub_series",
    "study_uid",
    "participant",
    "session",
    "source",
)


class EntryStatus(StrEnum):
    """What the conversion does (or did) with one input series."""

    CONVERTED = "converted"  #: in the dataset
    SKIPPED = "skipped"  #: left out; ``reason`` says why


@dataclass
class Unit:
    """One conversion input: the files of one DICOM series in one folder, or one NIfTI file."""

    key: str
    kind: str  # dicom | nifti
    files: list[str]
    rows: list[dict[str, Any]]
    target: Target
    participant: str = ""
    session: str = ""

    @property
    def first(self) -> dict[str, Any]:
        """The annotation row that speaks for the unit (the one with the most files)."""
        return max(self.rows, key=lambda r: int(as_number(r.get("n_files")) or 0))

    @property
    def source(self) -> str:
        return as_text(self.first.get("path"))

    @property
    def sequence(self) -> str:
        return as_text(self.first.get("sequence"))

    @property
    def study_uid(self) -> str:
        return as_text(self.first.get("study_uid"))

    def sort_key(self) -> tuple[float, str]:
        return (as_number(self.first.get("series_number")) or 0.0, self.key)


@dataclass
class Skip:
    """An input series (or file) that is not in the dataset, and why."""

    key: str
    source: str
    reason: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    sequence: str = ""


@dataclass
class Image:
    """One image file of the dataset-to-be: a converted (or copied) NIfTI with its side files."""

    unit: Unit
    postfix: str  # what dcm2niix appended to the requested name ('', '_e2', '_e2_ph', 'a', ...)
    staged: dict[str, Path]  # extension ('.nii.gz', '.json', '.bval', '.bvec') -> file waiting to be placed
    sidecar: dict[str, Any]
    suffix: Suffix
    entities: dict[Entity, str]
    direction: str = ""  # phase-encoding direction label (AP, PA, LR, RL, SI, IS) or ''
    stem: str = ""  # the BIDS file stem, once named

    @property
    def key(self) -> str:
        return self.unit.key + self.postfix

    @property
    def datatype(self) -> Datatype:
        return self.unit.target.datatype

    def relpath(self) -> str:
        """``sub-X/ses-Y/<datatype>/<stem>`` (no extension)."""
        parts = [f"sub-{self.unit.participant}"]
        if self.unit.session:
            parts.append(f"ses-{self.unit.session}")
        return "/".join([*parts, self.datatype.value, self.stem])


# --- 1. units ---------------------------------------------------------------------------------------------


def build_units(rows: Iterable[Mapping[str, Any]]) -> tuple[list[Unit], list[Skip]]:
    """Conversion units and skipped entries of an annotation table (rows of ``annotate_paths``)."""
    groups: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = defaultdict(list)
    skipped: list[Skip] = []
    for r in rows:
        row = dict(r)
        status = as_text(row.get("status"))
        uid = as_text(row.get("series_uid"))
        files = [f for f in as_text(row.get("files")).split(";") if f]
        if status not in (Status.OK, Status.UNKNOWN) or not files:
            what = "file" if not uid else "series"
            reason = as_text(row.get("reason")) or f"annotation status {status or 'missing'}"
            skipped.append(
                Skip(
                    uid or as_text(row.get("path")),
                    as_text(row.get("path")),
                    f"{what} not annotated as MR: {reason}",
                    [row],
                    as_text(row.get("sequence")),
                )
            )
            continue
        if as_text(row.get("format")) == "nifti":
            images = [f for f in files if not f.endswith(".json")]
            groups[(f"nifti:{os.path.abspath(images[0])}", ())].append(row)
        else:
            dirs = tuple(sorted({os.path.dirname(os.path.abspath(f)) for f in files}))
            groups[(uid, dirs)].append(row)
    units: list[Unit] = []
    seen_uid: dict[str, str] = {}
    for (key, dirs), members in sorted(groups.items()):
        files = [f for m in members for f in as_text(m.get("files")).split(";") if f]
        lead = max(members, key=lambda r: int(as_number(r.get("n_files")) or 0))
        source = as_text(lead.get("path"))
        sequence = as_text(lead.get("sequence"))
        if dirs and key in seen_uid:
            skipped.append(
                Skip(
                    f"{key}@{source}",
                    source,
                    f"a second copy of series {key}, already converted from {seen_uid[key]}",
                    members,
                    sequence,
                )
            )
            continue
        if dirs:
            seen_uid[key] = source
        # Sub-series split by radclass (echoes, b-values, matrices) are converted together by dcm2niix: the
        # series takes the label of its largest part (the ledger keeps every part's own label).
        target = target_for(sequence, as_text(lead.get("contrast")))
        if isinstance(target, str):
            skipped.append(Skip(key, source, target, members, sequence))
            continue
        units.append(Unit(key, "nifti" if not dirs else "dicom", files, members, target))
    return units, skipped


# --- 2. participants and sessions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Who and when, from the DICOM header of a unit (empty strings where absent)."""

    patient_id: str = ""
    study_date: str = ""
    study_time: str = ""


def read_identity(unit: Unit) -> Identity:
    """PatientID / StudyDate / StudyTime of the unit's first DICOM file (NIfTI units: from the path)."""
    if unit.kind == "nifti":
        parts = Path(unit.files[0]).parts
        sub = next((p[4:] for p in parts if p.startswith("sub-")), "")
        ses = next((p[4:] for p in parts if p.startswith("ses-")), "")
        return Identity(sub or Path(unit.files[0]).parent.name, ses, "")
    import pydicom

    try:
        ds = pydicom.dcmread(
            unit.files[0], stop_before_pixels=True, specific_tags=["PatientID", "StudyDate", "StudyTime"]
        )
    except Exception:  # the scan read this file; a failure here only loses the identity, never the series
        return Identity()
    return Identity(
        as_text(ds.get("PatientID")).strip(), as_text(ds.get("StudyDate")).strip(), as_text(ds.get("StudyTime")).strip()
    )


@dataclass
class ParticipantMap:
    """A user mapping: PatientID -> participant label (and StudyInstanceUID -> session label), plus the extra
    participants.tsv columns given for each participant."""

    participants: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # participant label -> column -> value

    @classmethod
    def load(cls, path: Path | None) -> ParticipantMap:
        """Read a CSV or TSV with ``patient_id`` and ``participant_id`` columns (optional ``study_uid`` and
        ``session_id``; any other column goes into participants.tsv)."""
        out = cls()
        if path is None:
            return out
        path = Path(path)
        with path.open(newline="") as fh:
            dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
            reader = csv.DictReader(fh, dialect=dialect)
            missing = {"patient_id", "participant_id"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(
                    f"The participants file {path} needs the columns patient_id and participant_id; "
                    f"it lacks {', '.join(sorted(missing))}."
                )
            for i, row in enumerate(reader, start=2):
                label = clean_label(row["participant_id"].removeprefix("sub-"), "")
                if not label:
                    raise ValueError(
                        f"{path} line {i}: participant_id {row['participant_id']!r} has no letters or "
                        "digits, so it cannot be a BIDS label."
                    )
                out.participants[row["patient_id"].strip()] = label
                if row.get("study_uid") and row.get("session_id"):
                    out.sessions[row["study_uid"].strip()] = clean_label(row["session_id"].removeprefix("ses-"))
                extra = {
                    k: v
                    for k, v in row.items()
                    if k not in ("patient_id", "participant_id", "study_uid", "session_id") and k
                }
                out.columns.setdefault(label, {}).update({k: v for k, v in extra.items() if v})
        return out


def assign_sessions(units: list[Unit], mapping: ParticipantMap, known: Mapping[str, tuple[str, str]]) -> None:
    """Set ``participant`` and ``session`` of every unit.

    ``known`` maps a StudyInstanceUID (or a NIfTI unit key) to the (participant, session) the dataset already
    uses for it (from the ledger). New studies: participant from the mapping or the cleaned PatientID, session
    from the mapping or the StudyDate (``YYYYMMDD``; a second study of one participant on that date adds its
    StudyTime, ``YYYYMMDDhhmmss``).
    """
    by_study: dict[str, list[Unit]] = defaultdict(list)
    for u in units:
        by_study[u.study_uid if u.kind == "dicom" else u.key].append(u)
    taken: dict[str, set[str]] = defaultdict(set)
    for sub, ses in known.values():
        taken[sub].add(ses)
    new: list[tuple[str, str, str, str]] = []  # (participant, date, time, study key)
    for study, members in sorted(by_study.items()):
        if study in known:
            sub, ses = known[study]
            for u in members:
                u.participant, u.session = sub, ses
            continue
        ident = read_identity(members[0])
        if members[0].kind == "nifti":
            sub = mapping.participants.get(ident.patient_id) or clean_label(ident.patient_id)
            ses = clean_label(ident.study_date, "") if ident.study_date else ""
            for u in members:
                u.participant, u.session = sub, ses
            continue
        sub = mapping.participants.get(ident.patient_id) or clean_label(ident.patient_id)
        new.append((sub, ident.study_date, ident.study_time, study))
    for sub, date, time, study in sorted(new, key=lambda t: (t[0], t[1], t[2], t[3])):
        ses = mapping.sessions.get(study) or _free_session(date, time, taken[sub])
        taken[sub].add(ses)
        for u in by_study[study]:
            u.participant, u.session = sub, ses


def _free_session(date: str, time: str, taken: set[str]) -> str:
    """The StudyDate; when the participant already has it, StudyDate + StudyTime (HHMMSS); then a counter."""
    base = clean_label(date, "nodate")
    with_time = base + clean_label(time.split(".")[0], "")
    for label in (base, with_time):
        if label not in taken:
            return label
    n = 2
    while f"{with_time}n{n}" in taken:
        n += 1
    return f"{with_time}n{n}"


# --- 3. names ---------------------------------------------------------------------------------------------


def _acq_parts(image: Image) -> list[tuple[str, str]]:
    """Properties that may tell two images apart, as (kind, label), tried in this order: plane, 2D/3D."""
    row = image.unit.first
    plane = as_text(row.get("orientation")).lower()
    acq = as_text(row.get("acquisition")).lower()
    return [("plane", plane if plane not in ("", "na", "mixed") else ""), ("dim", acq if acq in ("2d", "3d") else "")]


def name_images(images: list[Image], taken: set[str]) -> None:
    """Give every image of ``images`` a unique :attr:`Image.stem`, not one of the relative paths in ``taken``.

    Images that would share a name get, in turn: ``dir-`` when their phase-encoding directions differ (where
    the suffix allows it), ``acq-`` from the plane and then 2D/3D when those differ, and ``run-`` numbers
    (ordered by SeriesNumber) for what still collides.
    """
    ents: dict[int, dict[Entity, str]] = {
        id(im): {Entity.SUB: im.unit.participant, Entity.SES: im.unit.session, **im.unit.target.entities, **im.entities}
        for im in images
    }

    def groups() -> list[list[Image]]:
        by: dict[str, list[Image]] = defaultdict(list)
        for im in images:
            by[f"{im.datatype}/{file_stem(ents[id(im)], im.suffix)}"].append(im)
        return [g for g in by.values() if len(g) > 1]

    for g in groups():
        if Entity.DIR in ALLOWED[g[0].suffix] and len({im.direction for im in g}) > 1:
            for im in g:
                if im.direction:
                    ents[id(im)][Entity.DIR] = im.direction
    for step in range(2):
        for g in groups():
            labels = [_acq_parts(im)[step][1] for im in g]
            if len(set(labels)) > 1:
                for im, label in zip(g, labels):
                    if label:
                        ents[id(im)][Entity.ACQ] = ents[id(im)].get(Entity.ACQ, "") + label
    for g in groups():
        ordered = sorted(g, key=lambda im: (im.unit.sort_key(), as_text(im.sidecar.get("AcquisitionTime")), im.key))
        for n, im in enumerate(ordered, start=1):
            ents[id(im)][Entity.RUN] = str(n)
    for im in sorted(images, key=lambda im: (im.unit.sort_key(), im.key)):
        e = ents[id(im)]
        check_entities(e, im.suffix)
        im.stem = file_stem(e, im.suffix)
        run = int(e.get(Entity.RUN) or 1)
        while im.relpath() in taken:  # an earlier run of the conversion owns this name: never take it over
            run += 1
            e[Entity.RUN] = str(run)
            im.stem = file_stem(e, im.suffix)
        taken.add(im.relpath())


# --- the ledger -------------------------------------------------------------------------------------------


def read_ledger(root: Path) -> list[dict[str, str]]:
    """Rows of the dataset's ledger (empty when the dataset is new)."""
    path = Path(root) / LEDGER
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def write_ledger(root: Path, rows: list[dict[str, Any]]) -> Path:
    """Write the ledger atomically; ``rows`` have the :data:`LEDGER_COLUMNS`."""
    path = Path(root) / LEDGER
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=LEDGER_COLUMNS, delimiter="\t", extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(
                {
                    k: ("" if is_missing(r.get(k)) else str(r.get(k)).replace("\t", " ").replace("\n", " "))
                    for k in LEDGER_COLUMNS
                }
            )
    tmp.replace(path)
    return path

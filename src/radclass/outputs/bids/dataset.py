"""``radclass bids``: an annotated archive -> a BIDS dataset (plan, convert, place, dataset files, ledger).

Re-running on the same dataset folder keeps every name the ledger holds (files are converted again only when
they are missing) and adds what is new; ``dry_run`` converts into a temporary folder, names everything and
writes nothing under the dataset folder.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radclass import __version__
from radclass.outputs.bids.convert import (
    ConversionError,
    Output,
    dcm2niix_version,
    find_dcm2niix,
    images_of,
    place,
    run_dcm2niix,
    stage_nifti,
)
from radclass.outputs.bids.exports import write_exports
from radclass.outputs.bids.naming import BIDS_VERSION
from radclass.outputs.bids.plan import (
    EntryStatus,
    Image,
    ParticipantMap,
    Skip,
    assign_sessions,
    build_units,
    name_images,
    read_ledger,
    write_ledger,
)
from radclass.outputs.bids.tasks import TaskRules
from radclass.values import as_text

BIDSIGNORE_LINES = ("# written by radclass bids: files of the conversion that are not BIDS data", "code/radclass/")


@dataclass(frozen=True)
class PlanRow:
    """One line of the plan (and of the ledger): an input series and what becomes of it."""

    key: str
    unit: str
    status: EntryStatus
    source: str
    sequence: str
    bids_path: str = ""  # relative, without extension
    reason: str = ""
    series_uid: str = ""
    sub_series: str = ""
    study_uid: str = ""
    participant: str = ""
    session: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def converted(cls, ledger: dict[str, Any]) -> PlanRow:
        """The row of a series a previous run converted, from its ledger line (its name is kept)."""
        names = (
            "key",
            "unit",
            "source",
            "sequence",
            "bids_path",
            "series_uid",
            "sub_series",
            "study_uid",
            "participant",
            "session",
        )
        return cls(status=EntryStatus.CONVERTED, reason="", **{k: ledger[k] for k in names})


@dataclass
class BidsResult:
    """The plan of a run and what it wrote."""

    root: Path
    rows: list[PlanRow] = field(default_factory=list)
    dry_run: bool = False
    heuristic_left_out: list[str] = field(default_factory=list)  # series the HeuDiConv export cannot name

    @property
    def converted(self) -> list[PlanRow]:
        return [r for r in self.rows if r.status is EntryStatus.CONVERTED]

    @property
    def skipped(self) -> list[PlanRow]:
        return [r for r in self.rows if r.status is EntryStatus.SKIPPED]


def _image_row(im: Image) -> PlanRow:
    return PlanRow(
        im.key,
        im.unit.key,
        EntryStatus.CONVERTED,
        im.unit.source,
        im.unit.sequence,
        im.relpath(),
        "",
        as_text(im.unit.first.get("series_uid")),
        ";".join(sorted({as_text(r.get("sub_series")) for r in im.unit.rows} - {""})),
        im.unit.study_uid,
        im.unit.participant,
        im.unit.session,
    )


def _skip_row(s: Skip) -> PlanRow:
    first = s.rows[0] if s.rows else {}
    return PlanRow(
        s.key,
        s.key,
        EntryStatus.SKIPPED,
        s.source,
        s.sequence,
        "",
        s.reason,
        as_text(first.get("series_uid")),
        ";".join(sorted({as_text(r.get("sub_series")) for r in s.rows} - {""})),
        as_text(first.get("study_uid")),
    )


def build_bids(
    rows: Iterable[Mapping[str, Any]],
    root: Path,
    *,
    participants: Path | None = None,
    task_rules: Path | None = None,
    dry_run: bool = False,
    name: str | None = None,
) -> BidsResult:
    """Convert the annotated series of ``rows`` (``annotate_paths`` rows) into the BIDS dataset ``root``."""
    root = Path(root)
    mapping = ParticipantMap.load(participants)
    tasks = TaskRules.load(task_rules)
    units, skips = build_units(rows)
    ledger = read_ledger(root)
    fixed = {r["key"]: r for r in ledger if r.get("status") == EntryStatus.CONVERTED}
    known = {(r["study_uid"] or r["unit"]): (r["participant"], r["session"]) for r in fixed.values()}
    assign_sessions(units, mapping, known)
    program = find_dcm2niix() if any(u.kind == "dicom" for u in units) else None
    if not dry_run:
        root.mkdir(parents=True, exist_ok=True)
    result = BidsResult(root, dry_run=dry_run)
    with tempfile.TemporaryDirectory(prefix=".radclass-staging-", dir=None if dry_run else root) as staging:
        kept: list[PlanRow] = []
        fresh: list[Image] = []
        again: list[Image] = []
        by_unit: dict[str, list[dict[str, str]]] = defaultdict(list)
        for r in fixed.values():
            by_unit[r["unit"]].append(r)
        for unit in units:
            mine = by_unit.get(unit.key, [])
            if mine and all(_present(root, r["bids_path"]) for r in mine):
                kept.extend(PlanRow.converted(r) for r in mine)
                continue
            try:
                outputs: list[Output] = (
                    stage_nifti(unit, Path(staging))
                    if unit.kind == "nifti"
                    else run_dcm2niix(unit, Path(staging), program or find_dcm2niix())  # found above
                )
            except ConversionError as err:
                skips.append(Skip(unit.key, unit.source, str(err), unit.rows, unit.sequence))
                continue
            images, bad = images_of(unit, outputs, tasks)
            skips.extend(bad)
            for im in images:
                if im.key in fixed:  # converted before but its files are gone: same name again
                    im.stem = fixed[im.key]["bids_path"].rsplit("/", 1)[-1]
                    again.append(im)
                else:
                    fresh.append(im)
        name_images(fresh, taken={r["bids_path"] for r in fixed.values()})
        if not dry_run:
            for im in again + fresh:
                place(im, root)
        result.rows = sorted(
            kept + [_image_row(im) for im in again + fresh] + [_skip_row(s) for s in skips],
            key=lambda r: (r.status != EntryStatus.CONVERTED, r.bids_path, r.source, r.key),
        )
    # Entries of earlier runs stay in the ledger (and their files in the dataset) as they were, also when this
    # run's input lacks the series or labels it differently: a re-run never takes a converted file away.
    fixed_units = {r["unit"] for r in fixed.values()}
    result.rows = [r for r in result.rows if r.status is EntryStatus.CONVERTED or r.unit not in fixed_units]
    listed = {r.key for r in result.rows}
    carried = [PlanRow.converted(r) for r in fixed.values() if r["key"] not in listed]
    if not dry_run:
        everything = carried + result.rows
        write_ledger(root, [r.as_dict() for r in everything])
        _, _, result.heuristic_left_out = write_exports(root, [r.as_dict() for r in everything])
        write_dataset_files(
            root,
            [r for r in everything if r.status is EntryStatus.CONVERTED],
            mapping,
            name=name,
            converter=dcm2niix_version(program) if program else None,
        )
    return result


def _present(root: Path, bids_path: str) -> bool:
    return bool(bids_path) and (root / (bids_path + ".nii.gz")).is_file() and (root / (bids_path + ".json")).is_file()


def write_dataset_files(
    root: Path, converted: list[PlanRow], mapping: ParticipantMap, *, name: str | None, converter: str | None
) -> None:
    """dataset_description.json and README (when absent), participants.tsv/.json and .bidsignore."""
    desc = root / "dataset_description.json"
    if not desc.exists():
        generated = [
            {
                "Name": "radclass",
                "Version": __version__,
                "Description": "series named from radclass's sequence/orientation/contrast labels",
            }
        ]
        if converter:
            generated.append({"Name": "dcm2niix", "Version": converter})
        desc.write_text(
            json.dumps(
                {
                    "Name": name or "radclass conversion",
                    "BIDSVersion": BIDS_VERSION,
                    "DatasetType": "raw",
                    "GeneratedBy": generated,
                },
                indent=2,
            )
            + "\n"
        )
    readme = root / "README.md"
    if not readme.exists() and not (root / "README").exists():
        readme.write_text(
            "# BIDS dataset converted by radclass\n\nEach series was converted with dcm2niix and "
            "named from radclass's labels. `code/radclass/conversion.tsv` lists every input series "
            "with its path here or the reason it was skipped.\n"
        )
    subjects = sorted({r.participant for r in converted})
    extra = sorted({c for s in subjects for c in mapping.columns.get(s, {})})
    if not subjects:  # an empty participants.tsv contradicts the (absent) subject folders
        for stale in ("participants.tsv", "participants.json"):
            (root / stale).unlink(missing_ok=True)
    else:
        _write_participants(root, subjects, extra, mapping)
    ignore = root / ".bidsignore"
    lines = ignore.read_text().splitlines() if ignore.exists() else []
    ignore.write_text("\n".join([*lines, *(ln for ln in BIDSIGNORE_LINES if ln not in lines)]) + "\n")


def _write_participants(root: Path, subjects: list[str], extra: list[str], mapping: ParticipantMap) -> None:
    with (root / "participants.tsv").open("w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(["participant_id", *extra])
        for s in subjects:
            w.writerow([f"sub-{s}", *(mapping.columns.get(s, {}).get(c) or "n/a" for c in extra)])
    (root / "participants.json").write_text(
        json.dumps(
            {
                "participant_id": {"Description": "participant label (from PatientID or the --participants mapping)"},
                **{c: {"Description": f"{c} (from the --participants mapping)"} for c in extra},
            },
            indent=2,
        )
        + "\n"
    )

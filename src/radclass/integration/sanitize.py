"""One sanitiser for everything radclass copies from a source instance into a derived object (the SR).

Real archives hold headers that break a strict DICOM writer: PatientSex ``0000``, dates such as ``1996.06.11``,
times such as ``09:11:56``, ages such as ``0Y``, strings longer than their VR allows, values stored under a
wrong VR, bytes that are not valid in the declared (or a missing) Specific Character Set. :func:`sanitize` builds,
for each source header, a new dataset holding only what a derived object takes from it:

* the identifying UIDs (study, series, SOP class and instance) -- an instance whose UIDs are invalid is
  :attr:`Action.EXCLUDED` from the evidence, since a corrected UID would reference nothing;
* the root attributes of the Patient and Study modules of the SR IOD (Patient, Clinical Trial Subject, General
  Study, Patient Study, Clinical Trial Study; PS3.3 C.7.1-C.7.2), which highdicom copies;
* the acquisition equipment (General Equipment) and the image geometry the TID 1602 image library describes.

Every value is decoded with the source's character set and checked against the dictionary VR and VM of its tag
(PS3.5 6.2). A valid value passes unchanged. An invalid one is :attr:`Action.CORRECTED` where it has a single
valid reading (``1996.06.11`` -> ``19960611``, ``m`` -> ``M``, ``0Y`` -> ``000Y``, a DS of 17 characters rewritten
in 16, a free-text value cut to its VR's length), otherwise :attr:`Action.EMPTIED` when the attribute is Type 2
(e.g. PatientSex ``0000``) or :attr:`Action.DROPPED`. Identifiers (PatientID, AccessionNumber, StudyID...) are
never cut: a truncated identifier would name someone else. A Type 1 attribute of an optional module that cannot
be repaired drops that module. Text is written back as UTF-8 (``ISO_IR 192``) when any of it is not ASCII.

Each change is a :class:`Correction` in the :class:`SanitizeReport`, which the SR writer logs (one warning per
attribute and reason, naming the attribute) and the listener counts.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from pydicom import charset
from pydicom.datadict import dictionary_VM, dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID
from pydicom.valuerep import MAX_VALUE_LEN, format_number_as_ds

#: Specific Character Set of the sanitised headers (and so of the SR) when any text is not ASCII.
UTF8 = "ISO_IR 192"
#: UIDs that identify an instance; an instance with an invalid one cannot be referenced.
IDENTITY = ("StudyInstanceUID", "SeriesInstanceUID", "SOPClassUID", "SOPInstanceUID")
#: General Equipment attributes highdicom copies into the SR's contributing equipment (PS3.3 C.7.5.1).
EQUIPMENT = (
    "Manufacturer",
    "ManufacturerModelName",
    "SoftwareVersions",
    "DeviceSerialNumber",
    "InstitutionName",
    "InstitutionalDepartmentName",
    "InstitutionAddress",
    "StationName",
    "AcquisitionDateTime",
    "AcquisitionDate",
    "AcquisitionTime",
)
#: What the TID 1602 image library entry reads from an image.
GEOMETRY = (
    "Modality",
    "FrameOfReferenceUID",
    "Rows",
    "Columns",
    "PixelSpacing",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "SliceThickness",
    "PatientOrientation",
    "ImagerPixelSpacing",
)
#: Identifiers: a bad one is emptied or dropped, never shortened.
IDENTIFIERS = frozenset(
    {
        "PatientID",
        "IssuerOfPatientID",
        "OtherPatientIDs",
        "AccessionNumber",
        "StudyID",
        "AdmissionID",
        "ServiceEpisodeID",
        "ClinicalTrialProtocolID",
        "ClinicalTrialSiteID",
        "ClinicalTrialSubjectID",
        "ClinicalTrialSubjectReadingID",
        "ClinicalTrialTimePointID",
    }
)
#: Enumerated values of CS attributes in the copied modules (PS3.3 C.7.1.1, C.7.2.2), and unambiguous spellings.
ENUMERATED = {
    "PatientSex": {"M": "M", "F": "F", "O": "O", "MALE": "M", "FEMALE": "F", "OTHER": "O"},
    "PatientSexNeutered": {"ALTERED": "ALTERED", "UNALTERED": "UNALTERED"},
    "QualityControlSubject": {"YES": "YES", "NO": "NO"},
    "PatientIdentityRemoved": {"YES": "YES", "NO": "NO"},
    "SmokingStatus": {"YES": "YES", "NO": "NO", "UNKNOWN": "UNKNOWN"},
    "TypeOfPatientID": {"TEXT": "TEXT", "RFID": "RFID", "BARCODE": "BARCODE"},
}
#: US attributes with a closed range (PregnancyStatus: 1-4, PS3.3 C.7.2.2).
RANGES = {"PregnancyStatus": (1, 4), "Rows": (1, 65535), "Columns": (1, 65535)}

_TEXT = frozenset({"SH", "LO", "ST", "LT", "UT", "UC", "PN"})
_SINGLE = frozenset({"ST", "LT", "UT"})  # no backslash delimiter: one value
_ASCII = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI", "UR"})
_BINARY = frozenset({"US", "UL", "SS", "SL", "FL", "FD", "UV", "SV"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # LT/ST/UT keep TAB, LF, FF, CR
_CS = re.compile(r"^[A-Z0-9 _]*$")
_AE = re.compile(r"^[\x20-\x5b\x5d-\x7e]*$")
_DT = re.compile(r"^\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?$")
_DS = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class Action(StrEnum):
    """What the sanitiser did to an attribute; PS3.3's attribute type decides between EMPTIED and DROPPED."""

    CORRECTED = "corrected"  #: rewritten as the one valid value it stands for
    EMPTIED = "emptied"  #: a Type 2 attribute kept with an empty value (PS3.5 7.4: "unknown")
    DROPPED = "dropped"  #: a Type 3 attribute (or an optional module, for a Type 1 one) left out
    EXCLUDED = "excluded"  #: an instance left out of the evidence: one of its identifying UIDs is invalid


@dataclass(frozen=True)
class Correction:
    """One change to one attribute of one source instance."""

    keyword: str
    action: Action
    reason: str
    original: str = ""
    value: str = ""
    instance: str = ""

    def __post_init__(self) -> None:
        if not self.keyword or not self.reason:
            raise ValueError("A correction needs the attribute it concerns and the reason for it.")
        object.__setattr__(self, "action", Action(self.action))  # ValueError for an unknown action


@dataclass
class SanitizeReport:
    """The corrections made to the headers of one series (``n_instances`` sources, ``n_excluded`` left out)."""

    n_instances: int = 0
    corrections: list[Correction] = field(default_factory=list)

    @property
    def n_excluded(self) -> int:
        """Instances left out of the evidence."""
        return len({c.instance for c in self.corrections if c.action is Action.EXCLUDED})

    def summary(self) -> list[tuple[str, Action, str, str, int]]:
        """Distinct (attribute, action, reason, original -> value, number of instances), most frequent first."""
        counts = Counter((c.keyword, c.action, c.reason, _change(c)) for c in self.corrections)
        return [(*key, n) for key, n in counts.most_common()]

    def __len__(self) -> int:
        """Number of distinct corrections (one per attribute, action and reason)."""
        return len(self.summary())

    def log(self, logger: logging.Logger, context: str) -> None:
        """One warning per distinct correction, naming the attribute, what was done and to how many instances."""
        for keyword, action, reason, change, n in self.summary():
            logger.warning(
                "%s: %s %s (%s%s) in %d of %d instances",
                context,
                keyword,
                action.value,
                reason,
                f"; {change}" if change else "",
                n,
                self.n_instances,
            )


def _change(c: Correction) -> str:
    if c.action is Action.CORRECTED:
        return f"{c.original!r} -> {c.value!r}"
    return f"was {c.original!r}" if c.original else ""


class _Unfixable(ValueError):
    """A value with no valid reading; the message is the reason."""


# --- the copied attributes ------------------------------------------------------------------------------------


@functools.cache
def module_attributes() -> list[tuple[str, str, str, bool]]:
    """(keyword, type, module, module is optional) of the root attributes of the SR IOD's Patient and Study
    modules, as highdicom's copy of PS3.3 lists them (StudyInstanceUID left to :data:`IDENTITY`)."""
    from highdicom._standard_utils import get_iod_module_map, get_module_attribute_map, get_sop_class_iod_map

    iod = get_sop_class_iod_map()["1.2.840.10008.5.1.4.1.1.88.34"]  # Comprehensive 3D SR
    attributes = get_module_attribute_map()
    out = []
    for module in get_iod_module_map()[iod]:
        if module["ie"] in ("Patient", "Study"):
            out += [
                (str(a["keyword"]), str(a["type"]), module["key"], module["usage"] != "M")
                for a in attributes[module["key"]]
                if not a["path"] and a["keyword"] not in IDENTITY
            ]
    return out


# --- entry point ----------------------------------------------------------------------------------------------


def sanitize(sources: Sequence[Dataset]) -> tuple[list[Dataset], SanitizeReport]:
    """Clean copies of ``sources`` (instances with invalid UIDs left out) and the report of what was changed."""
    report = SanitizeReport(n_instances=len(sources))
    clean = []
    for ds in sources:
        out = sanitize_one(ds, report)
        if out is not None:
            clean.append(out)
    return clean, report


def sanitize_one(ds: Dataset, report: SanitizeReport) -> Dataset | None:
    """The clean copy of one header, or None when its identifying UIDs are invalid (recorded in ``report``)."""
    instance = _raw_text(ds, "SOPInstanceUID")
    encodings = _encodings(ds, report, instance)
    out = Dataset()
    for keyword in IDENTITY:
        raw = _raw_text(ds, keyword)
        if not UID(raw).is_valid:
            report.corrections.append(
                Correction(
                    keyword,
                    Action.EXCLUDED,
                    "missing" if not raw else "not a valid UID (PS3.5 9.1)",
                    raw,
                    instance=instance,
                )
            )
            return None
        setattr(out, keyword, raw)
    dropped_modules: set[str] = set()
    for keyword, type_, module, optional in module_attributes():
        if module in dropped_modules:
            continue
        kept = _copy(ds, out, keyword, type_, encodings, report, instance, add_empty=type_ == "2" and not optional)
        if not kept and optional and type_ in ("1", "1C") and keyword in ds:
            dropped_modules.add(module)
            for other, _, mod, _ in module_attributes():
                if mod == module and other in out:
                    delattr(out, other)
                    report.corrections.append(
                        Correction(
                            other, Action.DROPPED, f"its module ({module}) lost its Type 1 {keyword}", instance=instance
                        )
                    )
    for keyword in EQUIPMENT + GEOMETRY:
        _copy(ds, out, keyword, "3", encodings, report, instance)
    if any(not _is_ascii(elem.value) for elem in out.iterall() if elem.VR in _TEXT):
        out.SpecificCharacterSet = UTF8
    return out


# --- one attribute --------------------------------------------------------------------------------------------


def _copy(
    ds: Dataset,
    out: Dataset,
    keyword: str,
    type_: str,
    encodings: list[str],
    report: SanitizeReport,
    instance: str,
    *,
    add_empty: bool = False,
) -> bool:
    """Copy one attribute into ``out`` (cleaned); False when it was present and could not be kept or fixed.

    ``add_empty``: an absent attribute is added empty (Type 2 of a mandatory module: anonymised sources)."""
    tag = tag_for_keyword(keyword)
    if tag is None or tag not in ds:
        if add_empty and tag is not None:
            out.add_new(tag, dictionary_VR(tag), None)
        return True
    vr = dictionary_VR(tag)
    try:
        value, reason, original = _clean(ds, tag, vr, encodings, keyword)
    except _Unfixable as err:
        original = _preview(ds, tag)
        if type_ in ("2", "2C"):
            out.add_new(tag, vr, None if vr != "SQ" else [])
            report.corrections.append(Correction(keyword, Action.EMPTIED, str(err), original, instance=instance))
            return True
        report.corrections.append(Correction(keyword, Action.DROPPED, str(err), original, instance=instance))
        return False
    if vr == "SQ" and not value and type_ not in ("2", "2C"):
        report.corrections.append(
            Correction(keyword, Action.DROPPED, "a sequence without items (VM 1-n)", instance=instance)
        )
        return True
    out.add_new(tag, vr, value)
    if reason:
        report.corrections.append(
            Correction(keyword, Action.CORRECTED, reason, original, _preview(out, tag), instance=instance)
        )
    return True


def _clean(ds: Dataset, tag: int, vr: str, encodings: list[str], keyword: str):
    """(value, reason for a change or "", original text) of one element; raises _Unfixable."""
    if vr == "SQ":
        return _clean_sequence(ds, tag, encodings), "", ""
    if vr in _BINARY:
        return _clean_binary(ds, tag, keyword), "", ""
    raw = _raw_bytes(ds, tag)
    if raw is None:  # already a converted value (set in memory): text as it is
        text, decode_note = _as_text(ds[tag].value), ""
    else:
        text, decode_note = _decode(raw, vr, encodings)
    original = text
    values = [text] if vr in _SINGLE else text.split("\\")
    values = [v.strip(" \x00") if vr not in _SINGLE else v.rstrip(" \x00") for v in values]
    if values == [""]:
        return None, decode_note, original
    notes = [decode_note] if decode_note else []
    cleaned = []
    for v in values:
        new, note = _clean_value(vr, v, keyword)
        cleaned.append(new)
        if note:
            notes.append(note)
    cleaned = _check_vm(tag, cleaned)
    value = cleaned[0] if len(cleaned) == 1 else cleaned
    return value, "; ".join(dict.fromkeys(notes)), original


def _clean_value(vr: str, v: str, keyword: str) -> tuple[str, str]:
    """(valid value, note of the change or "") of one value of a string VR; raises _Unfixable."""
    note = ""
    control = _TEXT_CONTROL if vr in _SINGLE else _CONTROL
    if control.search(v):
        v, note = control.sub("", v), "control characters removed"
    if vr in _ASCII and not v.isascii():
        raise _Unfixable(f"non-ASCII characters in a {vr} value")
    fixer = _FIXERS.get(vr)
    if fixer is not None:
        new, fix_note = fixer(v, keyword)
        return new, "; ".join(filter(None, [note, fix_note]))
    limit = MAX_VALUE_LEN.get(vr, 0)
    if vr == "PN":
        return _clean_pn(v, note)
    if limit and len(v) > limit:
        if keyword in IDENTIFIERS:
            raise _Unfixable(f"{len(v)} characters, more than {vr} allows ({limit}); an identifier is never cut")
        return v[:limit].rstrip(), "; ".join(filter(None, [note, f"cut from {len(v)} to {limit} characters ({vr})"]))
    return v, note


def _clean_pn(v: str, note: str) -> tuple[str, str]:
    groups = v.split("=")
    notes = [note] if note else []
    if len(groups) > 3:
        raise _Unfixable(f"{len(groups)} component groups, PN allows 3")
    out = []
    for g in groups:
        parts = g.split("^")
        if len(parts) > 5:
            raise _Unfixable(f"{len(parts)} name components, PN allows 5")
        if len(g) > 64:
            notes.append(f"component group cut from {len(g)} to 64 characters (PN)")
            g = g[:64].rstrip("^ ")
        out.append(g)
    return "=".join(out), "; ".join(notes)


def _fix_da(v: str, keyword: str) -> tuple[str, str]:
    note = ""
    m = re.fullmatch(r"(\d{4})[.\-/](\d{2})[.\-/](\d{2})", v)
    if m:  # ACR-NEMA / ISO 8601 spelling
        v, note = "".join(m.groups()), "date separators removed"
    if not re.fullmatch(r"\d{8}", v):
        raise _Unfixable("not a date YYYYMMDD (DA)")
    try:
        dt.date(int(v[:4]), int(v[4:6]), int(v[6:]))
    except ValueError:
        raise _Unfixable("not a calendar date (DA)") from None
    return v, note


def _fix_tm(v: str, keyword: str) -> tuple[str, str]:
    note = ""
    if ":" in v:
        v, note = v.replace(":", ""), "time separators removed"
    m = re.fullmatch(r"(\d{2})(\d{2})?(\d{2})?(\.\d+)?", v)
    if not m or (m.group(4) and not m.group(3)):
        raise _Unfixable("not a time HHMMSS.FFFFFF (TM)")
    hh, mm, ss, frac = m.groups()
    if int(hh) > 23 or (mm and int(mm) > 59) or (ss and int(ss) > 60):
        raise _Unfixable("hours, minutes or seconds out of range (TM)")
    if frac and len(frac) > 7:
        v, note = v[: v.index(".") + 7], "; ".join(filter(None, [note, "fraction cut to 6 digits"]))
    return v, note


def _fix_dt(v: str, keyword: str) -> tuple[str, str]:
    if not _DT.fullmatch(v):
        raise _Unfixable("not a date-time YYYYMMDDHHMMSS.FFFFFF&ZZXX (DT)")
    if len(v) >= 8:
        _fix_da(v[:8], keyword)  # a calendar date
    return v, ""


def _fix_as(v: str, keyword: str) -> tuple[str, str]:
    if re.fullmatch(r"\d{3}[DWMY]", v):
        return v, ""
    m = re.fullmatch(r"(\d{1,3})\s*([DWMYdwmy])", v)
    if not m:
        raise _Unfixable("not an age nnnD/W/M/Y (AS)")
    return m.group(1).zfill(3) + m.group(2).upper(), "zero-padded to nnnX (AS)"


def _fix_cs(v: str, keyword: str) -> tuple[str, str]:
    note = ""
    if not _CS.fullmatch(v) and _CS.fullmatch(v.upper()):
        v, note = v.upper(), "upper-cased (CS)"
    if keyword in ENUMERATED:
        allowed = ENUMERATED[keyword]
        if v not in allowed:
            values = "/".join(sorted(set(allowed.values())))
            raise _Unfixable(f"not one of the enumerated values {values}")
        if allowed[v] != v:
            v, note = allowed[v], f"written as its enumerated value {allowed[v]}"
    if not _CS.fullmatch(v) or len(v) > 16:
        raise _Unfixable("characters or length not allowed in CS (A-Z, 0-9, space, underscore; 16)")
    return v, note


def _fix_ds(v: str, keyword: str) -> tuple[str, str]:
    try:
        number = float(v)
    except ValueError:
        raise _Unfixable("not a decimal number (DS)") from None
    if not math.isfinite(number):
        raise _Unfixable("not a finite number (DS)")
    if _DS.fullmatch(v) and len(v) <= 16:
        return v, ""
    return format_number_as_ds(number), "rewritten in 16 characters (DS)"


def _fix_is(v: str, keyword: str) -> tuple[str, str]:
    try:
        number = float(v)
    except ValueError:
        raise _Unfixable("not an integer (IS)") from None
    if not number.is_integer() or not -(2**31) <= number < 2**31:
        raise _Unfixable("not an integer in the IS range")
    text = str(int(number))
    return text, "" if re.fullmatch(r"[+-]?\d{1,12}", v) else "written as an integer (IS)"


def _fix_ui(v: str, keyword: str) -> tuple[str, str]:
    if not UID(v).is_valid:
        raise _Unfixable("not a valid UID (PS3.5 9.1)")
    return v, ""


def _fix_ae(v: str, keyword: str) -> tuple[str, str]:
    if not _AE.fullmatch(v) or len(v) > 16:
        raise _Unfixable("not a valid application entity title (AE)")
    return v, ""


_FIXERS = {
    "DA": _fix_da,
    "TM": _fix_tm,
    "DT": _fix_dt,
    "AS": _fix_as,
    "CS": _fix_cs,
    "DS": _fix_ds,
    "IS": _fix_is,
    "UI": _fix_ui,
    "AE": _fix_ae,
}


def _check_vm(tag: int, values: list[str]) -> list[str]:
    vm = dictionary_VM(tag)
    n = len(values)
    if vm.isdigit():
        if n != int(vm):
            raise _Unfixable(f"{n} values, the attribute takes {vm}")
    elif "-" in vm:
        low, high = vm.split("-")
        if n < int(low.rstrip("n") or 1) or (high.isdigit() and n > int(high)):
            raise _Unfixable(f"{n} values, the attribute takes {vm}")
    return values


def _clean_binary(ds: Dataset, tag: int, keyword: str):
    try:
        value = ds[tag].value
    except Exception as err:  # undecodable bytes under a wrong VR
        raise _Unfixable(f"unreadable as {dictionary_VR(tag)} ({type(err).__name__})") from None
    if isinstance(value, (bytes, str, DicomSequence)):
        raise _Unfixable(f"not a number ({dictionary_VR(tag)})")
    values = list(value) if isinstance(value, (list, tuple, MultiValue)) else [value]
    if not values or any(not isinstance(v, (int, float)) for v in values):
        raise _Unfixable(f"not a number ({dictionary_VR(tag)})")
    if keyword in RANGES:
        low, high = RANGES[keyword]
        if not all(low <= v <= high for v in values):
            raise _Unfixable(f"outside {low}-{high}")
    _check_vm(tag, [str(v) for v in values])
    return values[0] if len(values) == 1 else values


def _clean_sequence(ds: Dataset, tag: int, encodings: list[str]) -> list[Dataset]:
    """Items with every element checked; any element without a valid reading drops the whole sequence."""
    try:
        items = list(ds[tag].value)
    except Exception as err:
        raise _Unfixable(f"unreadable sequence ({type(err).__name__})") from None
    out = []
    for item in items:
        new = Dataset()
        for elem in _elements(item):
            if elem.tag.is_private or elem.tag.element == 0:
                continue
            keyword = keyword_for_tag(elem.tag) or str(elem.tag)
            try:
                vr = dictionary_VR(elem.tag)
            except KeyError:
                continue  # an element the dictionary does not know: not copied
            try:
                value, _, _ = _clean(item, elem.tag, vr, encodings, keyword)
            except _Unfixable as err:
                raise _Unfixable(f"item element {keyword}: {err}") from None
            new.add_new(elem.tag, vr, value)
        out.append(new)
    return out


def _elements(ds: Dataset) -> Iterable[DataElement]:
    for tag in list(ds.keys()):
        try:
            yield ds[tag]
        except Exception:  # an element pydicom cannot convert: represented by its raw form
            yield DataElement(tag, "UN", b"")


# --- raw values and character sets -------------------------------------------------------------------------


def _encodings(ds: Dataset, report: SanitizeReport, instance: str) -> list[str]:
    """Python codecs of the source's Specific Character Set (an unknown term is reported, Latin-1 used); an
    empty list when the source declares none (the default repertoire: ASCII)."""
    if "SpecificCharacterSet" not in ds or not ds.SpecificCharacterSet:
        return []
    terms = ds.get("SpecificCharacterSet")
    failed = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            encodings = charset.convert_encodings(terms)
        except Exception:  # e.g. an empty or malformed term list
            encodings, failed = ["iso8859"], True
    if caught or failed:
        report.corrections.append(
            Correction(
                "SpecificCharacterSet",
                Action.CORRECTED,
                "unknown defined term; text read as Latin-1",
                str(terms),
                UTF8,
                instance,
            )
        )
        encodings = ["iso8859"]
    return encodings


def _raw_bytes(ds: Dataset, tag: int) -> bytes | None:
    elem = ds.get_item(tag)
    value = getattr(elem, "value", None)
    return value if isinstance(value, bytes) else None


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, (list, tuple, MultiValue)):
        return "\\".join(str(v) for v in value)
    return str(value)


def _decode(raw: bytes, vr: str, encodings: list[str]) -> tuple[str, str]:
    """Text of a raw value and a note when it was not valid in the declared character set."""
    if vr not in _TEXT or raw.isascii():
        return raw.decode("latin-1"), ""
    if not encodings:
        return raw.decode("latin-1"), "non-ASCII bytes without a Specific Character Set; read as Latin-1"
    failed = False
    if len(encodings) == 1:  # one character set, no code extensions: a strict decode says it all
        try:
            return raw.decode(encodings[0]), ""
        except (UnicodeDecodeError, LookupError):
            failed, text = True, ""
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                text = charset.decode_bytes(raw, encodings, {0x5C, 0x3D, 0x5E} if vr == "PN" else {0x5C})
            except Exception:
                failed, text = True, ""
        failed = failed or bool(caught)
    if failed or "\ufffd" in text:
        declared = "/".join(encodings)
        return raw.decode("latin-1"), f"bytes not valid in the declared character set ({declared}); read as Latin-1"
    return text, ""


def _raw_text(ds: Dataset, keyword: str) -> str:
    tag = tag_for_keyword(keyword)
    if tag is None or tag not in ds:
        return ""
    raw = _raw_bytes(ds, tag)
    text = raw.decode("latin-1") if raw is not None else str(ds[tag].value)
    return text.strip(" \x00")


def _preview(ds: Dataset, tag: int) -> str:
    raw = _raw_bytes(ds, tag)
    try:
        text = raw.decode("latin-1") if raw is not None else str(ds[tag].value)
    except Exception:
        text = "<unreadable>"
    text = text.strip(" \x00")
    return text if len(text) <= 40 else text[:37] + "..."


def _is_ascii(value) -> bool:
    if value is None:
        return True
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return all(_is_ascii(v) for v in value)
    return str(value).isascii()

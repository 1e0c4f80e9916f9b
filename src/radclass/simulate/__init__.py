"""Physics-based MR simulator: realistic protocols, tissue anatomy, signal equations, artefacts, DICOM output.

* :func:`sample_protocol` — vendor-varied DICOM header values per sequence class (also used for header
  feature rows);
* :func:`simulate_slices` — fast 2D slices for CNN training;
* :func:`write_series`, :func:`write_study` — synthetic DICOM series/studies with a truth table.

Heavy parts (anatomy from the nilearn MNI152 templates, DICOM writing) load on first use.
"""

from __future__ import annotations

from typing import Any

from radclass.simulate.protocols import VENDORS, Protocol, sample_protocol

__all__ = ["VENDORS", "Protocol", "sample_protocol", "simulate_slices", "write_series", "write_study"]


def __getattr__(name: str) -> Any:
    # Lazy imports keep `import radclass.simulate` light for users that only need protocols.
    if name == "simulate_slices":
        from radclass.simulate.slices import simulate_slices

        return simulate_slices
    if name in ("write_series", "write_study"):
        from radclass.simulate import dicom

        return getattr(dicom, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

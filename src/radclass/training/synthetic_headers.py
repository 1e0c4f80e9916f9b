"""Synthetic header rows drawn from :mod:`radclass.simulate.protocols` (MR physics + vendor conventions).

They teach the forest the acquisition regimes of every class (TR/TE/TI/flip, ImageType conventions) that the
small real pool lacks. Optional fields are randomly blanked, as anonymisers and exports often do, so the
forest does not lean on any single one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from radclass.io.series import HEADER_COLUMNS
from radclass.simulate.protocols import Protocol, sample_protocol
from radclass.taxonomy import SEQUENCES

_DROPPABLE = {
    "sequence_name": 0.25,
    "scan_options": 0.1,
    "sequence_variant": 0.05,
    "echo_train_length": 0.2,
    "field_strength": 0.05,
    "b_values": 0.1,
    "temporal_positions": 0.3,
    "contrast_agent": 0.2,
    "echo_numbers": 0.1,
}


def protocol_row(p: Protocol) -> dict[str, Any]:
    """The scan-row fields (``radclass.io.series.HEADER_COLUMNS``) a series with protocol ``p`` would have."""
    b_values = ""
    if p.b_value is not None:
        b_values = "0\\" + f"{p.b_value:g}" if p.sequence == "DWI" and p.b_value > 0 else f"{p.b_value:g}"
    row: dict[str, Any] = dict.fromkeys(HEADER_COLUMNS)  # the same fields as a real scan row
    row.update(
        {
            "modality": "MR",
            "manufacturer": p.manufacturer,
            "field_strength": p.field_strength,
            "orientation": p.orientation,
            "image_type": "\\".join(p.image_type),
            "scanning_sequence": "\\".join(p.scanning_sequence),
            "sequence_variant": "\\".join(p.sequence_variant),
            "scan_options": "\\".join(p.scan_options),
            "sequence_name": p.sequence_name,
            "mr_acquisition_type": p.acquisition_type,
            "repetition_time": p.repetition_time,
            "echo_time": p.echo_time,
            "inversion_time": p.inversion_time,
            "flip_angle": p.flip_angle,
            "echo_train_length": p.echo_train_length,
            "b_values": b_values,
            "pixel_spacing": f"{p.pixel_spacing[0]:g}\\{p.pixel_spacing[1]:g}",
            "slice_thickness": p.slice_thickness,
            "rows": p.rows,
            "columns": p.columns,
            "n_frames": p.n_slices * p.n_volumes,
            "temporal_positions": p.n_volumes if p.n_volumes > 1 else None,
            "contrast_agent": p.contrast_agent or "",
            "series_description": p.series_description,
            "protocol_name": p.protocol_name,
            "model": p.model_name,
            # Classic single-echo images, as the simulator writes them (EchoNumbers 1; no enhanced-MR FrameType or
            # AcquisitionContrast): real rows of such series carry the same values.
            "echo_numbers": "1",
        }
    )
    return row


def synthetic_rows(
    n_per_class: int, seed: int = 0, classes: Sequence[str] = SEQUENCES, blank_fields: bool = True
) -> tuple[list[dict[str, Any]], list[str]]:
    """``n_per_class`` header rows per class and their labels."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for seq in classes:
        for _ in range(n_per_class):
            row = protocol_row(sample_protocol(seq, rng))
            if blank_fields:
                for key, p in _DROPPABLE.items():
                    if rng.random() < p:
                        row[key] = None
            rows.append(row)
            labels.append(seq)
    return rows, labels

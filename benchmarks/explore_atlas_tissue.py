"""Exploration for issue #12: can an atlas tell T1 from FLAIR on a volume with no header at all?

    .venv/bin/python benchmarks/explore_atlas_tissue.py [--csv out.csv]

The fluid test tells bright fluid (T2) from dark (FLAIR, T1, PD); what it cannot tell is a T1 from a FLAIR, both
fluid-dark. The physics: white matter is brighter than grey matter on a T1, darker on a FLAIR. Every whole-brain
anatomical volume of the pool (T1, T1C, T2, FLAIR, PD; the bundled brain mask, 700-2200 cm^3, 16 slices or more)
is read in three ways, none fitted:

* ``depth``: log of the median of the deep mask (8 voxels of the 128^3 cube and more: mostly white matter) over
  the median 1-3 voxels inside its surface (mostly cortex), CSF-dark voxels (below the 15th percentile) left out;
* ``atlas_dgm``, ``atlas_cgm``: the MNI152 2009 grey- and white-matter priors that nilearn ships, placed on the
  mask by matching its bounding box (left-right and front-back scaled to the template's brain, the vertex
  aligned, the height scaled by their mean: the brainstem cut varies), then log of the median in the white
  matter (prior > 0.9, eroded, above the ventricles) over the median in the deep grey matter (prior > 0.6 in
  the basal ganglia and thalami box) or in the cortex (prior > 0.7, eroded, outside that box).

Printed: each reading's range per class and dataset, and the overlap of T1 and FLAIR (T1 positive, FLAIR negative
is the physics). Result (2026-12-02, 82 volumes, 72 of them T1 or FLAIR): no reading separates them across
datasets (63-69 of the 72 fall inside the other class's range); ``nichart_demo``'s
elderly FLAIRs (white-matter hyperintensities, enlarged ventricles the box alignment does not follow) read like T1s,
so the bundle makes no pixel-only T1/FLAIR call (docs/pixel_model.md).
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from radclass.features.brain_mask import MASK_SIDE, NotAWholeBrain, check_whole_brain, masked_brain
from radclass.io.pixels import PixelReadError, load_volume, volume_spacing
from radclass.models.bundle import DEFAULT_BUNDLE, ModelBundle
from radclass.training.pool import labelled_pool

CLASSES = ("T1", "T1C", "T2", "FLAIR", "PD")


def _template() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(region labels 1 white matter / 2 deep grey / 3 cortex on the 1 mm MNI grid, brain box low, high)."""
    import nilearn

    data = Path(nilearn.__file__).parent / "datasets" / "data"
    gm = np.asanyarray(nib.load(data / "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz").dataobj) / 255.0
    wm = np.asanyarray(nib.load(data / "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz").dataobj) / 255.0
    brain = ndimage.binary_fill_holes(ndimage.binary_closing(gm + wm > 0.3, iterations=3))
    where = np.argwhere(brain)
    x, y, z = np.meshgrid(*(np.arange(n) - o for n, o in zip(gm.shape, (98, 134, 72))), indexing="ij")  # mm
    central = (np.abs(x) < 35) & (y > -40) & (y < 25) & (z > -10) & (z < 25)
    labels = np.zeros(gm.shape, np.uint8)
    labels[ndimage.binary_erosion(wm > 0.9, iterations=2) & (z > 15)] = 1
    labels[(gm > 0.6) & central] = 2
    labels[ndimage.binary_erosion(gm > 0.7) & ~central] = 3
    return labels, where.min(0), where.max(0) + 1


def _atlas_on(mask: np.ndarray, voxel: np.ndarray, template: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """The template's region labels at every voxel of ``mask`` (voxel size ``voxel`` mm), by box matching."""
    labels, lo, hi = template
    inside = np.argwhere(mask)
    m_lo, m_hi = inside.min(0) * voxel, (inside.max(0) + 1) * voxel
    scale = (hi - lo) / (m_hi - m_lo)
    height = (scale[0] + scale[1]) / 2
    mm = (inside + 0.5) * voxel
    coords = np.stack(
        [
            lo[0] + (mm[:, 0] - m_lo[0]) * scale[0],
            lo[1] + (mm[:, 1] - m_lo[1]) * scale[1],
            hi[2] - (m_hi[2] - mm[:, 2]) * height,
        ]
    )
    return ndimage.map_coordinates(labels, coords, order=0)


def readings(cube: np.ndarray, mask: np.ndarray, voxel: np.ndarray, template) -> dict[str, float]:
    values = cube[mask].astype(float)
    values -= np.percentile(values, 0.5)
    depth = ndimage.distance_transform_edt(mask)[mask]
    tissue = values > np.percentile(values, 15)
    out = {
        "depth": float(
            np.log(np.median(values[tissue & (depth >= 8)]) / np.median(values[tissue & (depth >= 1) & (depth <= 3)]))
        )
    }
    region = _atlas_on(mask, voxel, template)
    white = np.median(values[region == 1])
    out["atlas_dgm"] = float(np.log(white / np.median(values[region == 2])))
    out["atlas_cgm"] = float(np.log(white / np.median(values[region == 3])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, help="write every volume's readings here")
    args = parser.parse_args()
    bundle = ModelBundle.load(DEFAULT_BUNDLE)
    template = _template()
    rows = []
    for p in labelled_pool():
        if p.sequence not in CLASSES or p.anatomy != "brain" or not p.pixels_usable or (p.series.n_frames or 0) < 16:
            continue
        spacing = volume_spacing(p.series)
        try:
            volume = load_volume(p.series)
            if spacing is None:
                raise ValueError("no voxel size")
            cube, mask = masked_brain(volume, bundle.brain_mask_proba, 16)
            check_whole_brain(volume.shape, spacing, mask)
        except (PixelReadError, NotAWholeBrain, ValueError):
            continue
        voxel = np.array([n * float(d) / MASK_SIDE for n, d in zip(volume.shape, spacing)])
        rows.append({"id": p.id, "dataset": p.dataset, "sequence": p.sequence, **readings(cube, mask, voxel, template)})
    names = ("depth", "atlas_dgm", "atlas_cgm")
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["sequence"], r["dataset"])].append(r)
    print(f"{len(rows)} whole-brain volumes\n")
    print("| class | dataset | n | " + " | ".join(f"{n} min..max" for n in names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for (seq, ds), members in sorted(groups.items()):
        ranges = [f"{min(m[n] for m in members):.2f}..{max(m[n] for m in members):.2f}" for n in names]
        print(f"| {seq} | {ds} | {len(members)} | " + " | ".join(ranges) + " |")
    print()
    for n in names:
        t1 = [r[n] for r in rows if r["sequence"] == "T1"]
        flair = [r[n] for r in rows if r["sequence"] == "FLAIR"]
        overlap = sum(v >= min(t1) for v in flair) + sum(v <= max(flair) for v in t1)
        print(
            f"{n}: T1 {min(t1):.2f}..{max(t1):.2f}, FLAIR {min(flair):.2f}..{max(flair):.2f}; "
            f"{overlap} of {len(t1) + len(flair)} volumes inside the other class's range"
        )
    if args.csv:
        with args.csv.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()

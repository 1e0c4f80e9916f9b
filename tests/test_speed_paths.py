"""The fast paths of issue #7 give the same results as the plain pydicom paths they shortcut.

* header reading: ``read_instance`` tries a raw element walk (``header_reader.read_instance_walked``) before
  ``pydicom.dcmread``; both must give the same :class:`InstanceInfo` (or the same error) for every file of the
  pool and for seeded mutants of them (truncated, bit-flipped, bytes inserted, header bytes overwritten);
* pixel decoding: ``load_slices`` reads through ``pixel_dataset.read_pixel_dataset`` and decodes only the K
  frames it keeps of uncompressed multi-frame files; the slices must equal those of ``dcmread`` + full decode;
* annotate: slices decoded in worker processes give the same rows as in-process decoding;
* start-up: ``import radclass.cli`` pulls in no heavy library.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from radclass.config import BUNDLED_DIR
from radclass.io import header_reader, pixel_dataset, pixels
from radclass.io.header_model import DicomReadError
from radclass.io.raw_dataset import Fallback
from radclass.io.files import sniff_kind

BUNDLE_READY = (BUNDLED_DIR / "mri-series" / "bundle.json").exists()


def _dicom_files(*roots: Path) -> list[Path]:
    files = sorted(p for r in roots for p in r.rglob("*") if p.is_file())
    return [p for p in files if sniff_kind(p)[0] == "dicom"]


def _outcome(path: Path):
    try:
        return header_reader.read_instance(path)
    except DicomReadError as err:
        return ("error", str(err))


@pytest.fixture()
def slow_headers(monkeypatch):
    """``read_instance`` with the fast reader switched off (pydicom.dcmread only)."""
    def refuse(path):
        raise Fallback("switched off")

    def read(path: Path):
        with monkeypatch.context() as m:
            m.setattr(header_reader, "read_instance_walked", refuse)
            return _outcome(path)

    return read


def test_fast_header_reader_matches_pydicom_on_the_pool(data_root, slow_headers):
    files = _dicom_files(data_root / "mri" / "dicom", data_root / "liver")
    assert len(files) > 400
    taken = 0
    for f in files:
        try:
            fast = header_reader.read_instance_walked(str(f))
            taken += 1
        except Exception:
            fast = _outcome(f)  # what read_instance returns after falling back
        assert fast == slow_headers(f), f
    assert taken >= 0.95 * len(files)  # the pool is plain DICOM: the fast reader takes (nearly) all of it


def test_fast_header_reader_matches_pydicom_on_mutants(data_root, slow_headers, tmp_path):
    rng = random.Random(7)
    sources = _dicom_files(data_root / "mri" / "dicom")
    for i in range(160):
        data = bytearray(rng.choice(sources).read_bytes())
        mode = i % 4
        if mode == 0:
            data = data[:rng.randrange(1, len(data))]
        elif mode == 1:
            for _ in range(rng.choice([1, 5, 20])):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif mode == 2:
            pos = rng.randrange(len(data))
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.choice([1, 2, 64])))
        else:  # header bytes overwritten
            for _ in range(rng.choice([1, 3])):
                data[rng.randrange(min(len(data), 4096))] = rng.randrange(256)
        f = tmp_path / f"m{i}.dcm"
        f.write_bytes(bytes(data))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            new = _outcome(f)
            old = slow_headers(f)
        if isinstance(old, tuple):
            assert isinstance(new, tuple), f"mutant {i}: pydicom path fails ({old[1]}), fast path does not"
        else:
            assert new == old, f"mutant {i}"


def test_pixel_fast_path_matches_full_decoding(pool_scan, monkeypatch):
    series = [s for s in pool_scan.series if s.format == "dicom" and "no_pixels" not in s.flags]
    assert any(s.n_frames > 1 and "mosaic" not in s.flags for s in series)  # enhanced multi-frame present

    def load(s):
        try:
            return pixels.load_slices(s, 5)
        except pixels.PixelReadError as err:
            return str(err)

    fast = [load(s) for s in series]

    def refuse(path, frames=None):
        raise Fallback("switched off")

    monkeypatch.setattr(pixel_dataset, "read_pixel_dataset", refuse)  # -> dcmread, every frame decoded
    for s, got in zip(series, fast):
        want = load(s)
        if isinstance(want, str):
            assert got == want, s.path
            continue
        assert not isinstance(got, str), s.path
        assert len(got) == len(want), s.path
        for a, b in zip(got, want):
            assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True), s.path


@pytest.mark.skipif(not BUNDLE_READY, reason="bundled mri-series model not built")
def test_annotate_worker_processes_match_in_process(data_root):
    from radclass.models.bundle import ModelBundle
    from radclass.pipeline.annotate import annotate_scan
    from radclass.pipeline.scan import scan

    result = scan([data_root / "mri" / "dicom" / d for d in ("dcm_qa", "dcm_qa_xa30", "dcm_qa_philips")], workers=1)
    bundle = ModelBundle.load()
    one = annotate_scan(result, bundle, workers=1)
    two = annotate_scan(result, bundle, workers=2)
    assert [str(r) for r in one] == [str(r) for r in two]


def test_cli_start_up_imports_nothing_heavy():
    code = ("import sys, radclass.cli; heavy = ('numpy', 'pandas', 'pydicom', 'onnxruntime', 'torch', 'ray', "
            "'sklearn', 'nibabel', 'PIL'); print([m for m in heavy if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "radclass", "--help"], capture_output=True, check=True,
                   env={**os.environ, "COLUMNS": "100"})
    assert time.perf_counter() - t0 < 2.0  # 0.3 s on an idle 2-core machine (docs/performance.md)

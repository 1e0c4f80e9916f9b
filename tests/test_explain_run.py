"""``explain_target`` and ``radclass explain`` against the bundle contract, with a tiny network injected."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from radclass.explain import run  # noqa: E402


class Tiny(nn.Module):
    def __init__(self, n_classes: int, width: int = 4) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(width, n_classes)

    def forward(self, x):
        return self.head(self.body(x))


@pytest.fixture
def bundle_root(tmp_path, monkeypatch):
    """A bundle folder per the contract and a stand-in ``radclass.networks.build_network``."""
    fake = types.ModuleType("radclass.networks")
    fake.build_network = lambda name, n_classes, **kw: Tiny(n_classes, **kw)
    monkeypatch.setitem(sys.modules, "radclass.networks", fake)
    folder = tmp_path / "bundles" / "tiny"
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(Tiny(3, width=6).state_dict(), folder / "model.pt")
    (folder / "bundle.json").write_text(json.dumps({"network": "tiny", "classes": ["T1", "T2", "FLAIR"],
                                                    "input_size": 32, "network_kwargs": {"width": 6}}))
    return tmp_path / "bundles"


@pytest.fixture
def target(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray((rng.random((40, 50)) * 255).astype(np.uint8)).save(folder / name)
    return folder


def test_missing_bundle_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"model bundle 'nope' not found.*lacks bundle\.json"):
        run.explain_target(tmp_path, "nope", tmp_path / "out", bundle_root=tmp_path)


def test_explain_target_writes_overlays(bundle_root, target, tmp_path) -> None:
    written = run.explain_target(target, "tiny", tmp_path / "out", bundle_root=bundle_root)
    names = sorted(p.name for p in written)
    assert names == sorted([f"{s}_{m}.png" for s in ("a.png", "b.png") for m in run.METHODS] + ["explanations.json"])
    for path in written[:-1]:
        with Image.open(path) as im:
            assert im.size == (32, 32) and im.mode == "RGB"
    summary = json.loads((tmp_path / "out" / "explanations.json").read_text())
    assert summary["model"] == "tiny" and len(summary["series"]) == 2
    assert summary["series"][0]["sequence"]["predicted"] in ("T1", "T2", "FLAIR")


def test_real_multitask_bundle_layout(tmp_path, target) -> None:
    """The layout ``radclass train`` writes: weights named by ``torch_weights``, an orientation head."""
    from radclass.networks import build_network

    folder = tmp_path / "bundles" / "mri"
    folder.mkdir(parents=True)
    classes, orients = ["T1", "T2", "FLAIR", "DWI"], ["AX", "COR", "SAG"]
    torch.manual_seed(0)
    torch.save(build_network("multitask", len(classes)).state_dict(), folder / "cnn.pt")
    (folder / "bundle.json").write_text(json.dumps({"network": "multitask", "classes": classes, "input_size": 32,
                                                    "orient_classes": orients, "torch_weights": "cnn.pt",
                                                    "cnn": "cnn.onnx"}))
    bundle = run.load_bundle("mri", tmp_path / "bundles")
    assert [h[1] for h in bundle.heads] == ["sequence", "orientation"]
    written = run.explain_target(target / "a.png", "mri", tmp_path / "out", bundle_root=tmp_path / "bundles")
    names = {p.name for p in written}
    assert {"a.png_gradcam.png", "a.png_orientation_gradcam.png", "explanations.json"} <= names
    series = json.loads((tmp_path / "out" / "explanations.json").read_text())["series"][0]
    assert series["sequence"]["predicted"] in classes and series["orientation"]["predicted"] in orients
    (folder / "cnn.pt").unlink()
    with pytest.raises(FileNotFoundError, match="lacks cnn.pt"):
        run.load_bundle("mri", tmp_path / "bundles")


def test_cli_explain(bundle_root, target, tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    import radclass.cli  # noqa: F401
    from radclass.cli.app import app

    missing = CliRunner().invoke(app, ["explain", str(target), "--model", "absent", "--out", str(tmp_path / "x")])
    assert missing.exit_code == 2 and "not found" in missing.output
    monkeypatch.setattr(run, "BUNDLED_DIR", bundle_root)
    result = CliRunner().invoke(app, ["explain", str(target / "a.png"), "--model", "tiny", "--out", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli" / "a.png_gradcam.png").is_file()

"""The two-class softmax rewrite of exported ONNX graphs (radclass.training.onnx_graph)."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from radclass.models.bundle import DEFAULT_BUNDLE, ModelBundle
from radclass.training.onnx_graph import two_class_softmax_as_sigmoid


def _conv_softmax(channels: int = 2, axis: int = 1) -> onnx.ModelProto:
    """A 3D convolution (1 -> ``channels``) then a softmax over ``axis``: the shape of the brain-mask network's
    head."""
    rng = np.random.default_rng(1)
    weight = numpy_helper.from_array(rng.normal(0, 2, (channels, 1, 3, 3, 3)).astype(np.float32), "w")
    bias = numpy_helper.from_array(rng.normal(0, 1, channels).astype(np.float32), "b")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["logits"], pads=[1] * 6),
            helper.make_node("Softmax", ["logits"], ["y"], axis=axis),
        ],
        "conv_softmax",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 12, 10, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, 12, 10, 8])],
        [weight, bias],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": x})[0])


def test_rewrite_keeps_probabilities_and_decisions() -> None:
    x = np.random.default_rng(2).normal(size=(1, 1, 12, 10, 8)).astype(np.float32)
    before = _run(_conv_softmax(), x)
    model = two_class_softmax_as_sigmoid(_conv_softmax())
    onnx.checker.check_model(model)
    assert "Softmax" not in {n.op_type for n in model.graph.node}
    after = _run(model, x)
    assert after.shape == before.shape
    np.testing.assert_allclose(after, before, atol=1e-6)
    np.testing.assert_array_equal(after[0, 1] > 0.5, before[0, 1] > 0.5)
    np.testing.assert_allclose(after.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (_conv_softmax(channels=3), "two channels"),
        (_conv_softmax(axis=-1), "not over the channel axis"),
    ],
)
def test_rewrite_refuses_other_softmaxes(model: onnx.ModelProto, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        two_class_softmax_as_sigmoid(model)


def test_rewrite_refuses_a_graph_without_final_softmax() -> None:
    model = _conv_softmax()
    del model.graph.node[-1]
    with pytest.raises(ValueError, match="not a Softmax"):
        two_class_softmax_as_sigmoid(model)


def test_bundled_brain_mask_is_rewritten() -> None:
    """The shipped network carries the rewrite (a fresh export without it would cost twice the CPU) and still
    gives background/brain probabilities."""
    path = ModelBundle.load(DEFAULT_BUNDLE).path("brain_mask")
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "Softmax" not in ops and "Sigmoid" in ops

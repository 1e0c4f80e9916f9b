"""Rewrites of exported ONNX graphs that keep their outputs and cut their cost on the CPU (issue #15).

ONNX Runtime's CPU ``Softmax`` over the channel axis of a 5D tensor is slow: on the brain-mask network
(:mod:`radclass.features.brain_mask`, output ``(1, 2, 128, 128, 128)``) it took 219 of the 474 ms of one run on
one thread, more than all 29 convolutions together. For two classes the softmax is a logistic function of the
logits' difference, ``p1 = sigmoid(l1 - l0)`` and ``p0 = 1 - p1``, which ONNX Runtime computes in a few
vectorised passes. The rewritten graph gives the same probabilities to within float32 rounding (about 2e-7)
and the same ``p > 0.5`` decisions (checked on the pool's volumes, docs/performance.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def two_class_softmax_as_sigmoid(model: Any) -> Any:
    """``model`` (an ``onnx.ModelProto``, changed in place and returned) with its final two-class ``Softmax``
    over axis 1 replaced by ``Concat(1 - sigmoid(l1 - l0), sigmoid(l1 - l0))``: the same output name, shape and
    meaning.

    Raises
    ------
    ValueError
        When the graph's last node is not a ``Softmax`` over axis 1 that produces the graph's only output, or when
        that output does not have two channels.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    if not graph.node or graph.node[-1].op_type != "Softmax":
        raise ValueError("The graph's last node is not a Softmax, so there is no softmax to rewrite.")
    softmax = graph.node[-1]
    axis = next((helper.get_attribute_value(a) for a in softmax.attribute if a.name == "axis"), -1)
    if axis != 1:
        raise ValueError(f"The final Softmax runs over axis {axis}, not over the channel axis 1.")
    if len(graph.output) != 1 or graph.output[0].name != softmax.output[0]:
        raise ValueError("The final Softmax does not produce the graph's only output.")
    dims = graph.output[0].type.tensor_type.shape.dim
    if len(dims) < 2 or dims[1].dim_value != 2:
        raise ValueError("The graph's output does not have two channels: the softmax is not a two-class one.")
    logits, out = softmax.input[0], softmax.output[0]
    del graph.node[-1]
    names = {n: f"two_class_{n}" for n in ("c0", "c1", "c2", "axis", "one", "l0", "l1", "diff", "p1", "p0")}
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array([0], np.int64), names["c0"]),
            numpy_helper.from_array(np.array([1], np.int64), names["c1"]),
            numpy_helper.from_array(np.array([2], np.int64), names["c2"]),
            numpy_helper.from_array(np.array([1], np.int64), names["axis"]),
            numpy_helper.from_array(np.array(1.0, np.float32), names["one"]),
        ]
    )
    graph.node.extend(
        [
            helper.make_node("Slice", [logits, names["c0"], names["c1"], names["axis"]], [names["l0"]]),
            helper.make_node("Slice", [logits, names["c1"], names["c2"], names["axis"]], [names["l1"]]),
            helper.make_node("Sub", [names["l1"], names["l0"]], [names["diff"]]),
            helper.make_node("Sigmoid", [names["diff"]], [names["p1"]]),
            helper.make_node("Sub", [names["one"], names["p1"]], [names["p0"]]),
            helper.make_node("Concat", [names["p0"], names["p1"]], [out], axis=1),
        ]
    )
    return model

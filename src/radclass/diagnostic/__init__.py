"""Diagnostic image classifiers as reproducible recipes (issue #5).

Numpy-only modules (usable with the inference install, no torch): :mod:`~radclass.diagnostic.hounsfield`
(HU, window presets), :mod:`~radclass.diagnostic.images` (PNG/DICOM/NIfTI slices),
:mod:`~radclass.diagnostic.preprocess`, :mod:`~radclass.diagnostic.datasets`, :mod:`~radclass.diagnostic.liver`,
:mod:`~radclass.diagnostic.predict` (onnxruntime; bundles are :class:`radclass.models.bundle.ModelBundle`).

Torch modules (``train`` extra): :mod:`~radclass.diagnostic.architectures` (AlexNet, GoogLeNet, ResNet18/34/50,
the project's CNNs), :mod:`~radclass.diagnostic.weights` (local weights files), :mod:`~radclass.diagnostic.transforms`
(Desai augmentations, window augmentation, laterality flips), :mod:`~radclass.diagnostic.finetune` (two-phase
one-cycle fine-tuning), :mod:`~radclass.diagnostic.training`, :mod:`~radclass.diagnostic.crossval`,
:mod:`~radclass.diagnostic.pretrain` (rotation self-supervision), :mod:`~radclass.diagnostic.segmentation`
(ResNet34 U-Net), :mod:`~radclass.diagnostic.export` (ONNX) and :mod:`~radclass.diagnostic.recipes`.
"""

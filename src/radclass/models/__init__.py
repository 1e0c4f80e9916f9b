"""Model layer: ONNX inference of the bundled models (header forest, slice CNN) and their fusion.

Nothing here imports torch: ``radclass annotate`` runs on onnxruntime alone.
"""

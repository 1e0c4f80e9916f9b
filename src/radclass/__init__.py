"""radclass: classify medical images, from raw DICOM to answers a department can act on.

Data flows one way through the sub-packages:

    io        files -> instances -> series (headers, sampled slices)
    features  series -> header feature vectors, slice tensors
    models    ONNX inference: header forest, slice CNN, ensemble
    pipeline  scan / annotate: orchestrates the layers
    outputs   tables (CSV/JSON/Parquet), SQLite index, BIDS datasets

Heavy modules are imported lazily so that ``radclass --help`` stays fast.
"""

__version__ = "0.1.0"

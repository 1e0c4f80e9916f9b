"""Ingestion layer: files on disk -> DICOM instances / NIfTI volumes / images -> series."""

"""Output layer: tables (CSV/JSON/Parquet), the SQLite index, BIDS trees, DICOM SR."""

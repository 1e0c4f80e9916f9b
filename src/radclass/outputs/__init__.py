"""Output layer: tables (CSV/JSON/Parquet), the SQLite index, BIDS datasets (dcm2niix + radclass names), DICOM SR."""

"""Hospital integration: DICOM listener, structured reports, forwarding, Orthanc helpers.

``radclass listen`` wires these together:

    scp        pynetdicom Storage SCP: accepts instances, hands them to the store
    storage    the inbox on disk: atomic writes, <StudyUID>/<SeriesUID>/<SOPUID>.dcm
    tracker    when a series has been quiet long enough to count as complete
    ledger     which series were annotated, with how many instances (survives restarts)
    sanitize   checks and repairs what a report copies from its source headers (VR, VM, character set)
    sr         TID 1500 Comprehensive 3D SR carrying the labels (highdicom)
    forward    C-STORE SCU sending the SR on
    listener   the service: receive -> annotate -> index -> SR -> forward
    orthanc    configuration and a small REST client for plugging radclass into Orthanc

Modules import pynetdicom/highdicom at the top, so import them only where needed.
"""

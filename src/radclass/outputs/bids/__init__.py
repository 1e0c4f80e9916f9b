"""BIDS datasets from annotated archives (``radclass bids``).

* :mod:`~radclass.outputs.bids.naming` - datatypes, suffixes, entities (BIDS 1.11) and file names;
* :mod:`~radclass.outputs.bids.tasks` - ``task-`` labels of BOLD series from editable rules;
* :mod:`~radclass.outputs.bids.plan` - units, participants/sessions, collision-free names, the ledger;
* :mod:`~radclass.outputs.bids.convert` - dcm2niix (subprocess) and NIfTI copies, placing files;
* :mod:`~radclass.outputs.bids.dataset` - the whole run (:func:`build_bids`) and the dataset-level files;
* :mod:`~radclass.outputs.bids.exports` - a dcm2bids config and a HeuDiConv heuristic for the same names.
"""

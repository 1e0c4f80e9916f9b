"""Review page: browse annotated series, correct their labels, export corrections as training labels.

    app         FastAPI application over one SQLite index (:func:`radclass.review.app.create_app`)
    thumbnails  middle slice of a series as PNG (pydicom + Pillow)
    assets      the page's HTML/JS/CSS, read from ``web/`` with importlib.resources

Series are addressed by their integer index ``id`` only; files are read solely from the paths the index
records for that series, so nothing else on disk can be reached through the page.
"""

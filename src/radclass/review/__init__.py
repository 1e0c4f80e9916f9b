"""Review page: work through annotated series, look at every slice, ask for explanations, correct or accept
labels, export them as training labels.

    app           FastAPI application over one SQLite index (:func:`radclass.review.app.create_app`)
    access        the files of an indexed series, confined to its own path
    thumbnails    middle-slice PNG and viewer slices, through :mod:`radclass.io.pixels`
    explanations  Grad-CAM / occlusion over a slice and header SHAP on demand (:mod:`radclass.explain`)
    security      loopback-only by default, token or basic auth otherwise, CSP headers
    assets        the page's HTML/JS/CSS, read from ``web/`` with importlib.resources

Series are addressed by their integer index ``id`` only; files are read solely from the paths the index
records for that series, inside that series' path, so nothing else on disk can be reached through the page.
"""

"""Static files of the review page (``web/``), served from a fixed allow-list, never from a path."""

from __future__ import annotations

from functools import cache
from importlib import resources

#: File name -> media type; the only names the page serves.
ASSETS: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "review.js": "text/javascript; charset=utf-8",
    "review.css": "text/css; charset=utf-8",
}


@cache
def asset(name: str) -> tuple[bytes, str]:
    """Content and media type of a page asset; KeyError for any name not in :data:`ASSETS`."""
    media_type = ASSETS[name]
    return resources.files("radclass.review").joinpath("web", name).read_bytes(), media_type

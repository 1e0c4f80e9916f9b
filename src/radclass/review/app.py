"""FastAPI application of the review page over one SQLite index.

Routes (series are addressed by their integer index ``id`` only)::

    GET  /                               the page
    GET  /static/{name}                  review.js / review.css (allow-list)
    GET  /api/vocabulary                 labels a reviewer may choose
    GET  /api/series?filter=...          all | unknown | flagged | corrected
    GET  /api/series/{id}                one series with its correction history
    GET  /api/series/{id}/thumbnail.png  middle slice
    GET  /api/series/{id}/gradcam.png    Grad-CAM overlay, when the index records one (``gradcam_png``)
    POST /api/series/{id}/corrections    {"reviewer": ..., "sequence"/"orientation"/"contrast": ...}
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from radclass.outputs import sqlite_index as index
from radclass.review.assets import asset
from radclass.review.thumbnails import series_thumbnail

#: Columns the page shows (file paths stay on the server).
SHOWN = ("id", "series_key", "series_uid", "sub_series", "modality", "manufacturer", "series_description",
         "n_files", "sequence", "orientation", "contrast", "confidence", "status", "flags", "model_version")
Filter = Literal["all", "unknown", "flagged", "corrected"]


class CorrectionIn(BaseModel):
    """A reviewer's labels for one series; fields left out are not changed."""

    reviewer: str = Field(min_length=1, max_length=120)
    sequence: str | None = None
    orientation: str | None = None
    contrast: str | None = None


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _present(row: dict[str, Any], corrections: dict[str, dict[str, str]]) -> dict[str, Any]:
    item = {k: _clean(row.get(k)) for k in SHOWN}
    item["has_gradcam"] = bool(_gradcam_path(row))
    item["corrections"] = corrections
    item["current"] = {f: corrections[f]["new"] if f in corrections else row.get(f) for f in index.CORRECTABLE}
    return item


def _matches(item: dict[str, Any], wanted: Filter) -> bool:
    if wanted == "unknown":
        return item["sequence"] == "UNKNOWN" or item["status"] == "unknown"
    if wanted == "flagged":
        return bool(item["flags"])
    if wanted == "corrected":
        return bool(item["corrections"])
    return True


def _gradcam_path(row: dict[str, Any]) -> Path | None:
    value = _clean(row.get("gradcam_png"))
    if not value:
        return None
    path = Path(str(value))
    return path if path.suffix.lower() == ".png" and path.is_file() else None


def create_app(db_path: Path) -> FastAPI:
    """The review application for the index at ``db_path`` (created empty if missing)."""
    db_path = Path(db_path)
    with index.connect(db_path):
        pass
    app = FastAPI(title="radclass review", docs_url=None, redoc_url=None, openapi_url=None)

    def series_row(series_id: int) -> dict[str, Any]:
        row = index.get_series(db_path, series_id)
        if row is None:
            raise HTTPException(status_code=404, detail="no such series")
        return row

    @app.get("/", response_class=HTMLResponse)
    def page() -> Response:
        content, media_type = asset("index.html")
        return Response(content, media_type=media_type)

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        try:
            content, media_type = asset(name)
        except KeyError:
            raise HTTPException(status_code=404, detail="not found") from None
        return Response(content, media_type=media_type)

    @app.get("/api/vocabulary")
    def vocabulary() -> dict[str, list[str]]:
        return {field: list(values) for field, values in index.CORRECTABLE.items()}

    @app.get("/api/series")
    def list_series(filter: Filter = "all") -> list[dict[str, Any]]:
        latest = index.current_labels(db_path)
        rows = index.read_series(db_path).to_dict(orient="records")
        items = [_present(r, latest.get(r["series_key"], {})) for r in rows]
        return [i for i in items if _matches(i, filter)]

    @app.get("/api/series/{series_id}")
    def one_series(series_id: int) -> dict[str, Any]:
        row = series_row(series_id)
        item = _present(row, index.current_labels(db_path).get(row["series_key"], {}))
        log = index.read_corrections(db_path)
        item["history"] = log[log["series_key"] == row["series_key"]].to_dict(orient="records")
        return item

    @app.get("/api/series/{series_id}/thumbnail.png")
    async def thumbnail(series_id: int) -> Response:
        row = series_row(series_id)
        files = tuple(f for f in str(row.get("files") or "").split(";") if f)
        try:
            png = await asyncio.to_thread(series_thumbnail, files)
        except Exception:
            raise HTTPException(status_code=404, detail="no thumbnail for this series") from None
        return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=300"})

    @app.get("/api/series/{series_id}/gradcam.png")
    def gradcam(series_id: int) -> Response:
        path = _gradcam_path(series_row(series_id))
        if path is None:
            raise HTTPException(status_code=404, detail="no Grad-CAM image for this series")
        return Response(path.read_bytes(), media_type="image/png")

    @app.post("/api/series/{series_id}/corrections")
    def correct(series_id: int, body: CorrectionIn) -> dict[str, Any]:
        row = series_row(series_id)
        current = _present(row, index.current_labels(db_path).get(row["series_key"], {}))["current"]
        changes = {f: getattr(body, f) for f in index.CORRECTABLE
                   if getattr(body, f) is not None and getattr(body, f) != current[f]}
        for field, new in changes.items():  # all valid, or nothing stored
            if new not in index.CORRECTABLE[field]:
                raise HTTPException(status_code=422, detail=f"{field} cannot be {new!r}")
        if not body.reviewer.strip():
            raise HTTPException(status_code=422, detail="a correction needs a reviewer name")
        stored = [index.add_correction(db_path, row["series_key"], f, new, body.reviewer)
                  for f, new in changes.items()]
        return {"stored": stored, "series": one_series(series_id)}

    return app

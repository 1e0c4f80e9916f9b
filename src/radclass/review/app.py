"""FastAPI application of the review page over one SQLite index.

Routes (series are addressed by their integer index ``id`` only)::

    GET  /                                  the page (``/?token=...`` signs in when a token is set)
    GET  /static/{name}                     review.js / review.css (allow-list)
    GET  /api/vocabulary                    labels a reviewer may choose, sortable and groupable columns
    GET  /api/facets                        values present for the filter menus, review counts
    GET  /api/series?...                    one page of the work list: filters, sort, group, offset, limit
    GET  /api/series/{id}                   one series with its audit history
    GET  /api/series/{id}/thumbnail.png     middle slice
    GET  /api/series/{id}/slice?index=&volume=   one slice as little-endian float32 (shape in X- headers)
    POST /api/series/{id}/explain           {"method": "gradcam"|"occlusion", "index", "volume"}
    POST /api/series/{id}/corrections       {"reviewer", "sequence"/"orientation"/"contrast", "comment", "expected"}
    POST /api/accept                        {"reviewer", "ids": [...], "comment"}: accept the labels in force
    GET  /api/export.csv                    the training labels ``radclass review --export`` writes

Filtering, sorting and paging run in SQLite (:func:`radclass.outputs.sqlite_index.query_series`), so the
page stays fast on large indexes; pixels are read through :mod:`radclass.review.access` only.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from radclass.io.pixels import PixelReadError, series_extent
from radclass.outputs import sqlite_index as index
from radclass.review.access import SeriesAccessError, indexed_series
from radclass.review.assets import asset
from radclass.review.explanations import Explainer, Method
from radclass.review.security import guard
from radclass.review.thumbnails import series_thumbnail, viewer_slice

#: Columns the page shows (file paths stay on the server).
SHOWN = (
    "id",
    "series_key",
    "series_uid",
    "sub_series",
    "modality",
    "manufacturer",
    "series_description",
    "n_files",
    "sequence",
    "orientation",
    "contrast",
    "confidence",
    "status",
    "flags",
    "model_version",
    "study_uid",
)
Reviewer = Field(min_length=1, max_length=120)


class CorrectionIn(BaseModel):
    """A reviewer's labels for one series; fields left out are not changed.

    ``expected`` holds the labels the reviewer saw: when another reviewer changed one since, the save is
    refused (409) instead of silently replacing their edit.
    """

    reviewer: str = Reviewer
    sequence: str | None = None
    orientation: str | None = None
    contrast: str | None = None
    comment: str = Field(default="", max_length=2000)
    expected: dict[str, str | None] | None = None


class AcceptIn(BaseModel):
    """Accept the labels in force of several series at once."""

    reviewer: str = Reviewer
    ids: list[int] = Field(min_length=1, max_length=10000)
    comment: str = Field(default="", max_length=2000)


class ExplainIn(BaseModel):
    """Which explanation of which displayed slice."""

    method: Method = Method.GRADCAM
    index: int | None = Field(default=None, ge=0)
    volume: int = Field(default=0, ge=0)


def _clean(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def _present(row: dict[str, Any]) -> dict[str, Any]:
    """The page's view of a work-list row: shown columns, current labels, review state."""
    item = {k: _clean(row.get(k)) for k in SHOWN}
    item["current"] = {f: row.get(f"cur_{f}", row.get(f)) for f in index.CORRECTABLE}
    item["reviewed"] = bool(row.get("reviewed"))
    item["corrected"] = bool(row.get("corrected"))
    item["last_reviewer"], item["last_time"] = row.get("last_reviewer"), row.get("last_time")
    return item


def create_app(
    db_path: Path, *, token: str | None = None, model: str = "mri-series", bundle_root: Path | None = None
) -> FastAPI:
    """The review application for the index at ``db_path`` (created empty if missing).

    Parameters
    ----------
    db_path
        SQLite index written by ``radclass annotate`` / ``radclass listen``.
    token
        When given, every request must carry it (see :mod:`radclass.review.security`); without it the page
        answers loopback host names only.
    model, bundle_root
        The model bundle the explanations run (``radclass explain``'s).
    """
    db_path = Path(db_path)
    with index.connect(db_path):
        pass
    app = FastAPI(title="radclass review", docs_url=None, redoc_url=None, openapi_url=None)
    app.middleware("http")(guard(token))
    explainer = Explainer(model, bundle_root)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="radclass-explain")
    app.router.on_shutdown.append(lambda: pool.shutdown(wait=False, cancel_futures=True))

    def series_row(series_id: int) -> dict[str, Any]:
        row = index.get_series(db_path, series_id)
        if row is None:
            raise HTTPException(status_code=404, detail="no such series")
        return row

    def item_of(series_id: int) -> dict[str, Any]:
        row = series_row(series_id)
        item = _present(index.work_list_row(db_path, row["series_key"]) or row)
        item["history"] = index.history(db_path, row["series_key"])
        return item

    def series_of(series_id: int):
        try:
            return indexed_series(series_row(series_id))
        except SeriesAccessError as err:
            raise HTTPException(status_code=404, detail=str(err)) from None

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
    def vocabulary() -> dict[str, Any]:
        return {
            "labels": {field: list(values) for field, values in index.CORRECTABLE.items()},
            "sortable": list(index.SORTABLE),
            "groupable": list(index.GROUPABLE),
            "review_states": list(index.REVIEW_STATES),
            "methods": [str(m) for m in Method],
        }

    @app.get("/api/facets")
    def facets() -> dict[str, Any]:
        return {**index.facets(db_path), "counts": index.review_counts(db_path)}

    @app.get("/api/series")
    def list_series(
        review: str = "all",
        status: str | None = None,
        flag: str | None = None,
        predicted: str | None = None,
        label: str | None = None,
        confidence_min: float | None = Query(None, ge=0, le=1),
        confidence_max: float | None = Query(None, ge=0, le=1),
        manufacturer: str | None = None,
        study: str | None = None,
        q: str | None = Query(None, max_length=200),
        sort: str = "id",
        desc: bool = False,
        group: str | None = None,
        offset: int = Query(0, ge=0),
        limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        try:
            query = index.SeriesQuery(
                review=review,
                status=status,
                flag=flag,
                predicted=predicted,
                label=label,
                confidence_min=confidence_min,
                confidence_max=confidence_max,
                manufacturer=manufacturer,
                study_uid=study,
                text=q,
            )
            rows, total = index.query_series(
                db_path, query, sort=sort, descending=desc, group=group or None, offset=offset, limit=limit
            )
        except ValueError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        return {
            "items": [_present(r) for r in rows],
            "total": total,
            "offset": offset,
            "limit": limit,
            "counts": index.review_counts(db_path),
        }

    @app.get("/api/series/{series_id}")
    def one_series(series_id: int) -> dict[str, Any]:
        return item_of(series_id)

    @app.get("/api/series/{series_id}/thumbnail.png")
    async def thumbnail(series_id: int) -> Response:
        series = await asyncio.to_thread(series_of, series_id)
        try:
            png = await asyncio.to_thread(series_thumbnail, series)
        except (PixelReadError, OSError, ValueError):
            raise HTTPException(status_code=404, detail="no thumbnail for this series") from None
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

    @app.get("/api/series/{series_id}/slice")
    async def one_slice(
        series_id: int, index_: int | None = Query(None, alias="index", ge=0), volume: int = Query(0, ge=0)
    ) -> Response:
        series = await asyncio.to_thread(series_of, series_id)
        try:
            n_slices, _ = await asyncio.to_thread(series_extent, series)
            shown = await asyncio.to_thread(viewer_slice, series, n_slices // 2 if index_ is None else index_, volume)
        except IndexError as err:
            raise HTTPException(status_code=404, detail=str(err)) from None
        except (PixelReadError, OSError, ValueError):
            raise HTTPException(status_code=404, detail="the pixels of this slice cannot be read") from None
        return Response(
            shown.body(),
            media_type="application/octet-stream",
            headers={**shown.headers(), "Cache-Control": "private, max-age=300"},
        )

    @app.post("/api/series/{series_id}/explain")
    async def explain(series_id: int, body: ExplainIn) -> dict[str, Any]:
        series = await asyncio.to_thread(series_of, series_id)
        loop = asyncio.get_running_loop()
        try:
            n_slices, _ = await asyncio.to_thread(series_extent, series)
            slice_index = n_slices // 2 if body.index is None else body.index
            return await loop.run_in_executor(pool, explainer.explain, series, slice_index, body.volume, body.method)
        except IndexError as err:
            raise HTTPException(status_code=404, detail=str(err)) from None
        except PixelReadError as err:
            raise HTTPException(status_code=422, detail=f"cannot explain this series: {err}") from None
        except FileNotFoundError as err:  # the model bundle
            raise HTTPException(status_code=503, detail=str(err)) from None
        except ImportError as err:  # an inference-only install: no torch
            raise HTTPException(
                status_code=503, detail=f"explanations need torch (pip install 'radclass[train]'): {err}"
            ) from None

    @app.post("/api/series/{series_id}/corrections")
    def correct(series_id: int, body: CorrectionIn) -> dict[str, Any]:
        row = series_row(series_id)
        labels = {f: getattr(body, f) for f in index.CORRECTABLE if getattr(body, f) is not None}
        try:
            stored = index.save_review(
                db_path, row["series_key"], labels, body.reviewer, comment=body.comment, expected=body.expected
            )
        except index.ReviewConflict as err:
            raise HTTPException(status_code=409, detail=str(err)) from None
        except ValueError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        return {"stored": stored, "series": item_of(series_id)}

    @app.post("/api/accept")
    def accept(body: AcceptIn) -> dict[str, Any]:
        accepted, refused = [], []
        for series_id in dict.fromkeys(body.ids):
            if index.get_series(db_path, series_id) is None:
                refused.append({"id": series_id, "reason": "no such series"})
                continue
            item = item_of(series_id)
            labels = {f: v for f, v in item["current"].items() if v in index.CORRECTABLE[f]}
            if "sequence" not in labels:
                refused.append(
                    {
                        "id": series_id,
                        "reason": f"sequence {item['current']['sequence']!r} is not a "
                        "class: choose one before accepting",
                    }
                )
                continue
            try:
                index.save_review(
                    db_path,
                    item["series_key"],
                    labels,
                    body.reviewer,
                    comment=body.comment,
                    expected=item["current"],
                    record_unchanged=True,
                )
            except index.ReviewConflict as err:
                refused.append({"id": series_id, "reason": str(err)})
                continue
            except ValueError as err:
                raise HTTPException(status_code=422, detail=str(err)) from None
            accepted.append(series_id)
        return {"accepted": accepted, "refused": refused, "counts": index.review_counts(db_path)}

    @app.get("/api/export.csv")
    def export() -> Response:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "labels.csv"
            index.export_corrections(db_path, out)
            content = out.read_bytes()
        return Response(
            content,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="radclass-labels.csv"'},
        )

    return app

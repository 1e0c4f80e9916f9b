"""Who may use the review page: loopback by default; any other bind needs a token.

With a token every request must carry it, as ``Authorization: Bearer <token>``, as the password of HTTP
basic auth (any user name; browsers prompt for it), or as the page's session cookie, which ``/?token=<token>``
sets once (then redirects to drop the token from the address). Without a token the page answers only
requests addressed to a loopback host name (``Host: 127.0.0.1``, ``localhost``, ``[::1]``), which defeats
DNS-rebinding pages in the reviewer's browser. Every response carries a Content-Security-Policy that
allows scripts from the page's own files only, so a string from a DICOM header can never run as script.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

COOKIE = "radclass_review"
#: Minimum token length accepted for a non-loopback bind.
MIN_TOKEN = 16
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: "
        "blob:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; "
        "base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def is_loopback(host: str) -> bool:
    """True for a loopback address or the name ``localhost``."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve on a non-loopback address without a token of at least :data:`MIN_TOKEN` characters."""
    if is_loopback(host):
        return
    if not token:
        raise ValueError(
            f"binding the review page to {host} exposes it beyond this machine: give a token "
            "(--token or RADCLASS_REVIEW_TOKEN), which every request will then have to carry"
        )
    if len(token) < MIN_TOKEN:
        raise ValueError(f"the token must have at least {MIN_TOKEN} characters (it has {len(token)})")


def _presented(request: Request) -> str | None:
    """The token a request carries, if any."""
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if scheme.lower() == "basic" and value:
        try:
            return base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (ValueError, UnicodeDecodeError):
            return None
    return request.cookies.get(COOKIE)


def _host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def guard(token: str | None) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """HTTP middleware enforcing the rules of this module for ``token`` (``None``: loopback only)."""
    expected = token.encode("utf-8") if token else None

    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if expected is None:
            if _host_name(request) not in LOOPBACK_NAMES:
                return _secure(JSONResponse({"detail": "this page answers on a loopback address only"}, 421))
        else:
            query = request.query_params.get("token")
            if request.url.path == "/" and query is not None:
                if not hmac.compare_digest(query.encode("utf-8"), expected):
                    return _refuse()
                response = RedirectResponse("/", status_code=303)
                response.set_cookie(COOKIE, expected.decode("utf-8"), httponly=True, samesite="strict")
                return _secure(response)
            given = _presented(request)
            if given is None or not hmac.compare_digest(given.encode("utf-8"), expected):
                return _refuse()
        return _secure(await call_next(request))

    return middleware


def _refuse() -> Response:
    return _secure(
        JSONResponse(
            {"detail": "a valid token is required"}, 401, headers={"WWW-Authenticate": 'Basic realm="radclass review"'}
        )
    )


def _secure(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response

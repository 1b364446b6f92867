"""The web page served by the service: `/` (my access log) and `/team` (admins), plain HTML + JS.

No build step: three static files. The page holds the token in sessionStorage (given in the URL
fragment, which browsers never send), and a strict Content-Security-Policy allows only our own
scripts; `service.frame_ancestors` says which origins may embed it in a frame.
"""

from __future__ import annotations

from pathlib import Path as FilePath

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = FilePath(__file__).parent / "static"


def routes(app: FastAPI, frame_ancestors: str) -> None:
    """Serve the page at / and /team, and its script and style under /static."""
    csp = (
        f"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        f"frame-ancestors {frame_ancestors}; base-uri 'none'; form-action 'self'"
    )
    headers = {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=headers)

    app.add_api_route("/", page, include_in_schema=False)
    app.add_api_route("/team", page, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

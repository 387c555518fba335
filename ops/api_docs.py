"""Swagger UI at /docs, with its script, style sheet and icon served by this server (from
fastapi-offline's copy of Swagger UI's dist files), so the page works with no network."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

# Swagger UI's dist files as a PyPI package ships them (fastapi-offline), served from here.
SWAGGER_UI = Path(str(files("fastapi_offline") / "static"))
_DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}


def serve_docs(app: FastAPI) -> None:
    """Swagger UI at /docs with its script, style sheet and icon served by this server."""

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon.png",
            # Swagger UI's default sends the schema to validator.swagger.io for a badge.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/docs/assets/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> Response:
        media_type = _DOCS_ASSETS.get(name)
        if media_type is None:
            return JSONResponse({"detail": "no such documentation asset"}, status_code=404)
        headers = {"Cache-Control": "public, max-age=86400"}
        return FileResponse(SWAGGER_UI / name, media_type=media_type, headers=headers)

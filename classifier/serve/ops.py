"""What operators and people look at: /healthz, /readyz, /metrics and the page at /.

    curl -i http://127.0.0.1:8000/readyz      # 503 until every model has answered its warm-up call

/healthz says the process answers (a liveness probe: restart it if not); /readyz that it can
score (a readiness probe: send it traffic only then).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse, Response

from classifier.serve.deps import ServerState

# the page loads nothing from elsewhere; the browser enforces that, and any script injected
# through a review's text would not run
PAGE_POLICY = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
               "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'")
router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: ServerState) -> JSONResponse:
    ready = state.registry.ready
    return JSONResponse({"ready": ready, "models": state.registry.status()}, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(state: ServerState) -> Response:
    body, content_type = state.metrics.exposition()
    return Response(body, media_type=content_type)


@router.get("/", response_class=HTMLResponse)
async def page(state: ServerState) -> HTMLResponse:
    facts = {"models": list(state.registry.models), "api_key": state.settings.api_key is not None}
    # </script> inside a name cannot end the script block: "<" is escaped in the JSON
    html = page_template().replace("__FACTS__", json.dumps(facts).replace("<", "\\u003c"))
    return HTMLResponse(html, headers={"content-security-policy": PAGE_POLICY, "x-content-type-options": "nosniff"})


@cache
def page_template() -> str:
    return files("classifier.serve").joinpath("page.html").read_text(encoding="utf-8")

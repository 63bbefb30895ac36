"""``GET /health``: is the server up, which models are loaded, how full is the queue."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tinct import __version__
from tinct.serve.schemas import Health

router = APIRouter(tags=["health"])


@router.head("/health", include_in_schema=False)  # uptime checkers use HEAD
@router.get("/health", response_model=Health, summary="Liveness and load")
async def health(request: Request) -> Health:
    state = request.app.state
    return Health(status="ok", version=__version__, default_model=state.store.default,
                  loaded_models=state.store.loaded(), queue_pending=state.queue.pending,
                  queue_size=state.queue.capacity)

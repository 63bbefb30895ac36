"""``create_app(settings)``: the FastAPI application behind ``tinct serve``.

One process serves the web page (``/``), the HTTP API (``/api/v1``), ``/health`` and the OpenAPI
docs (``/docs``, assets served locally when ``fastapi-offline`` is installed). Models are
validated when the app is created, and the default one is loaded at startup; inference runs in
a bounded thread pool (:mod:`tinct.serve.worker`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tinct import __version__
from tinct.serve import routes_api, routes_health, routes_jobs, routes_page
from tinct.serve.errors import install_handlers
from tinct.serve.methods import Methods
from tinct.serve.multipart import UploadBudget
from tinct.serve.models import ModelStore
from tinct.serve.origin import OriginGuard
from tinct.serve.predictions import Predictions
from tinct.serve.settings import Settings
from tinct.serve.worker import InferenceQueue

DESCRIPTION = """Colorize black-and-white images.

`POST /api/v1/colorize` with a multipart form (`image`, optional `hints` JSON, `model`,
`render_size`, `format`) returns the colorized image. Errors are JSON `{"error": "..."}`; when the
inference queue is full the answer is 503 with a `Retry-After` header.
"""


def _fastapi(**kwargs) -> FastAPI:
    """A FastAPI app whose /docs page needs no CDN when fastapi-offline is installed."""
    try:
        from fastapi_offline import FastAPIOffline
    except ImportError:
        return FastAPI(**kwargs)
    return FastAPIOffline(**kwargs)


class Jobs:
    """The job store and its runner (``/api/v1/jobs``)."""

    def __init__(self, settings: Settings, store: ModelStore):
        from tinct.serve.jobs import JobRunner, JobStore

        self.store = JobStore(settings.jobs_folder())
        self.runner = JobRunner(self.store, store, settings.job_ttl_s)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. Raises :class:`tinct.errors.TinctError` when a model file is missing or bad."""
    settings = settings or Settings()
    store = ModelStore(settings.models, settings.default_model, settings.render_size, settings.backend)
    queue = InferenceQueue(settings.workers, settings.queue_size, settings.timeout_s)
    jobs = Jobs(settings, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.torch_threads:
            from tinct.pipeline import set_threads

            set_threads(settings.torch_threads)
        if settings.preload:
            store.get(store.default)  # before the first request is accepted
        queue.start()
        jobs.runner.start()
        try:
            yield
        finally:
            queue.shutdown()
            jobs.runner.shutdown()

    app = _fastapi(title="tinct", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.store = store
    app.state.queue = queue
    app.state.jobs = jobs
    app.state.upload_budget = UploadBudget(settings.upload_budget_bytes)
    app.state.predictions = Predictions()  # one network pass for the page's repeated /suggest and /confidence
    install_handlers(app)
    app.include_router(routes_api.router)
    app.include_router(routes_jobs.router)
    app.include_router(routes_health.router)
    app.include_router(routes_page.router)
    app.mount("/static", StaticFiles(directory=routes_page.STATIC_DIR), name="static")
    app.add_middleware(Methods, router=app.router)  # HEAD and OPTIONS everywhere
    app.add_middleware(OriginGuard, bind_host=settings.host, extra_hosts=settings.allowed_hosts)
    return app


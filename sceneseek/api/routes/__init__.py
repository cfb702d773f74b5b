"""The API's routes, one module per area, in the order the OpenAPI docs list them."""

from sceneseek.api.routes import alerts, browse, feedback, ingest, media, search, status, zones

ROUTERS = (
    status.router,
    search.router,
    browse.router,
    zones.router,
    media.router,
    ingest.router,
    feedback.router,
    alerts.router,
)

__all__ = ["ROUTERS", "search"]

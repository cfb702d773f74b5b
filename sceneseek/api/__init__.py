"""HTTP API over ``Library`` (``sceneseek serve``); FastAPI is imported only here.

app.py assembles the app; settings.py its limits; deps.py what routes receive (the
library, its read lock, settings, ingest jobs); schemas.py the request and response
models; routes/ one module per area; access.py and metrics.py the middleware; jobs.py
the ingest queue."""

from sceneseek.api.app import create_app
from sceneseek.api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]

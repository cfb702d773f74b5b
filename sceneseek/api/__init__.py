"""HTTP API over ``Library`` (``sceneseek serve``); FastAPI is imported only here."""

from sceneseek.api.app import ApiSettings, create_app

__all__ = ["ApiSettings", "create_app"]

"""``python -m sceneseek.cli``."""

from sceneseek.cli import app

app()

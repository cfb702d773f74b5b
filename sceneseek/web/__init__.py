"""The browser UI: static HTML, JavaScript and CSS served by ``sceneseek.api``."""

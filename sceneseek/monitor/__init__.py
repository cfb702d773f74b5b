"""Watching a running index: its size and growth, drift of what is being indexed, and
structured logs. Reads the index's SQLite file directly, so ``sceneseek stats`` and
``/metrics`` work beside a running ``serve``/``watch`` and never load the vectors into
Faiss."""

"""Live ingest: record streams into chunks and index them as they close, index files as
they land in a folder, and fire saved-query alerts on what was just indexed.

Import the submodules directly (``sceneseek.live.watch``; alerts are ``sceneseek.alerts``);
this package stays empty so the index layer can be imported without them.
"""

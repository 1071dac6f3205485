"""Settings and errors shared by the write path (``ingest``) and the read path (``bot``).

Nothing is imported here: ``config.errors`` stays cheap for a command that only prints help.
"""

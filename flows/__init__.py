"""Prefect flows and the command line: thin wrappers around the ``pipeline`` library."""

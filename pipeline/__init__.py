"""newsclean: turn scraped news into clean, deduplicated, audited Parquet datasets.

The library is pure: it reads and writes files, but never prints, never exits and never
imports prefect. ``flows/`` wraps it for orchestration and the command line.
"""

__version__ = "0.1.0"

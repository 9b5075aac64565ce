"""Small exceptions named after the condition. Only the CLI turns them into messages."""


class NewscleanError(Exception):
    """Base class for every error newsclean raises on purpose."""


class ConfigError(NewscleanError):
    """The configuration is invalid; the message names the bad key."""


class RecordError(NewscleanError):
    """One input record (or file) cannot be read; it becomes a ``rejected/`` row."""

    def __init__(self, message: str, excerpt: str = "") -> None:
        super().__init__(message)
        self.excerpt = excerpt


class DatasetError(NewscleanError):
    """The output directory is not a newsclean dataset, or is damaged."""


class LockedError(NewscleanError):
    """Another run holds the lock on the output directory."""


class ShardFailedError(NewscleanError):
    """A shard failed on something other than a bad record (those become ``rejected/``
    rows): a bug, or the machine (a full disk). The message names the raw file and shard."""

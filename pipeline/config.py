"""Configuration: one frozen dataclass per stage, loaded from TOML and validated.

``newsclean.toml`` holds the sections below; every key is optional. Unknown sections or keys
are errors (a typo must not silently fall back to a default)::

    [paths]
    raw = "data/raw"
    clean = "data/clean"

    [boilerplate]
    builtin_rules = true          # use the rule pack shipped in pipeline/rules/
    rule_files = ["my_rules.toml"]  # more rule packs, same format
    learn = true                  # learn each source's chrome from what repeats in it
    learn_min_articles = 3        # a template must be in at least this many of its articles
    learn_min_share = 0.1         # and in this share of them (lines at the edges; 3x inside)

    [dedup]
    min_chars = 40                # shorter paragraphs are never duplicates (dialogue lines)
    near_threshold = 83.0         # fuzz.ratio score for a near-duplicate paragraph or sentence
    contained_coverage = 0.8      # share of a paragraph's characters already seen earlier
    span_min_chars = 80           # a repeated run of sentences must be at least this long
    across_articles = true        # also remove copies of paragraphs of earlier articles
    article_coverage = 0.8        # an article this much copied from one earlier one: duplicate_of

    [run]
    shard_mb = 8                  # raw MB per shard (one Prefect task per shard)
    workers = 0                   # processes; 0 = one per core
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError


@dataclass(frozen=True, slots=True)
class PathsConfig:
    raw: str = "data/raw"
    clean: str = "data/clean"


@dataclass(frozen=True, slots=True)
class BoilerplateConfig:
    builtin_rules: bool = True
    rule_files: tuple[str, ...] = ()
    # Learned boilerplate (pipeline/learned.py); thresholds measured by
    # bench/boilerplate_eval.py (README).
    learn: bool = True
    learn_min_articles: int = 3
    learn_min_share: float = 0.1

    def __post_init__(self) -> None:
        _check(self.learn_min_articles >= 2, "boilerplate.learn_min_articles must be >= 2")
        _check(0 < self.learn_min_share <= 1, "boilerplate.learn_min_share must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class DedupConfig:
    # Thresholds measured by bench/inarticle_threshold.py (see README).
    min_chars: int = 40
    near_threshold: float = 83.0
    contained_coverage: float = 0.8
    span_min_chars: int = 80
    across_articles: bool = True
    article_coverage: float = 0.8

    def __post_init__(self) -> None:
        _check(self.min_chars >= 0, "dedup.min_chars must be >= 0")
        _check(0 < self.near_threshold <= 100, "dedup.near_threshold must be in (0, 100]")
        _check(0 < self.contained_coverage <= 1, "dedup.contained_coverage must be in (0, 1]")
        _check(self.span_min_chars >= 1, "dedup.span_min_chars must be >= 1")
        _check(0 < self.article_coverage <= 1, "dedup.article_coverage must be in (0, 1]")


@dataclass(frozen=True, slots=True)
class RunConfig:
    shard_mb: float = 8.0
    workers: int = 0

    def __post_init__(self) -> None:
        _check(self.shard_mb > 0, "run.shard_mb must be > 0")
        _check(self.workers >= 0, "run.workers must be >= 0 (0 = one per core)")


@dataclass(frozen=True, slots=True)
class Config:
    paths: PathsConfig = field(default_factory=PathsConfig)
    boilerplate: BoilerplateConfig = field(default_factory=BoilerplateConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def digest(self) -> str:
        """A short hash of everything that changes the output (paths excluded).

        Rule packs (built-in and the user's) are hashed by content, and the library version
        is part of it: editing a pack or upgrading newsclean changes the digest.
        """
        from pipeline import __version__

        packs = (
            [p.read_bytes() for p in builtin_rule_packs()] if self.boilerplate.builtin_rules else []
        )
        packs += [Path(p).read_bytes() for p in self.boilerplate.rule_files if Path(p).is_file()]
        payload: dict[str, Any] = {
            "version": __version__,
            "boilerplate": asdict(self.boilerplate),
            "dedup": asdict(self.dedup),
            "rule_contents": [hashlib.sha256(b).hexdigest() for b in packs],
        }
        raw = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()[:16]


def builtin_rule_packs() -> list[Path]:
    """The rule packs shipped in ``pipeline/rules/``."""
    return sorted((Path(__file__).parent / "rules").glob("*.toml"))


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


_SECTIONS: dict[str, type[Any]] = {
    "paths": PathsConfig,
    "boilerplate": BoilerplateConfig,
    "dedup": DedupConfig,
    "run": RunConfig,
}


def _build(section: str, cls: type[Any], values: Any) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"[{section}] must be a table")
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"unknown key {section}.{key} (known: {', '.join(sorted(known))})")
        default = getattr(cls(), key)
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{section}.{key} must be a list of strings")
            value = tuple(value)
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{section}.{key} must be true or false")
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{section}.{key} must be a number")
            value = float(value)
        elif isinstance(default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{section}.{key} must be an integer")
        elif isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{section}.{key} must be a string")
        kwargs[key] = value
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any], base_dir: Path | None = None) -> Config:
    """Build a validated Config from parsed TOML; relative rule files resolve from base_dir."""
    parts: dict[str, Any] = {}
    for section, values in data.items():
        if section not in _SECTIONS:
            raise ConfigError(
                f"unknown section [{section}] (known: {', '.join(sorted(_SECTIONS))})"
            )
        parts[section] = _build(section, _SECTIONS[section], values)
    cfg = Config(**parts)
    if base_dir is not None and cfg.boilerplate.rule_files:
        resolved = tuple(str((base_dir / p).resolve()) for p in cfg.boilerplate.rule_files)
        cfg = Config(
            paths=cfg.paths,
            boilerplate=replace(cfg.boilerplate, rule_files=resolved),
            dedup=cfg.dedup,
            run=cfg.run,
        )
    for path in cfg.boilerplate.rule_files:
        if not Path(path).is_file():
            raise ConfigError(f"boilerplate.rule_files: no such file: {path}")
    return cfg


def load_config(
    path: str | Path | None, overrides: dict[str, dict[str, Any]] | None = None
) -> Config:
    """Load ``newsclean.toml`` (``None``: the defaults), then apply ``overrides``.

    ``overrides`` are ``{section: {key: value}}`` (what ``--set SECTION.KEY=VALUE`` gives),
    applied on top of the file and validated together with it, so that a bad key or value
    gets the same message whichever way it came. Relative rule files in ``overrides``
    resolve from the working directory (they come from a command line), those in the file
    from the file's directory.
    """
    data: dict[str, Any] = {}
    base_dir: Path | None = None
    if path is not None:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {p}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: invalid TOML: {exc}") from None
        base_dir = p.parent
    if overrides:
        data = _merge(data, overrides)
    return config_from_dict(data, base_dir=base_dir)


def parse_setting(text: str) -> tuple[str, str, Any]:
    """``"SECTION.KEY=VALUE"`` as ``(section, key, value)``, VALUE read as a TOML value.

    A VALUE that is not TOML is taken as a bare string, so that paths need no quotes in a
    shell; the type is checked later with the other keys of its section.

    >>> parse_setting("dedup.near_threshold=90")
    ('dedup', 'near_threshold', 90)
    >>> parse_setting('boilerplate.rule_files=["a.toml"]')
    ('boilerplate', 'rule_files', ['a.toml'])
    >>> parse_setting("paths.raw=/srv/raw")
    ('paths', 'raw', '/srv/raw')
    """
    name, eq, raw_value = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not eq or not dot or not section or not key:
        raise ConfigError(f"--set {text!r}: expected SECTION.KEY=VALUE, e.g. dedup.min_chars=30")
    raw_value = raw_value.strip()
    try:
        parsed = tomllib.loads(f"value = {raw_value}")
    except tomllib.TOMLDecodeError:
        parsed = {}
    value = parsed["value"] if list(parsed) == ["value"] else raw_value
    return section, key, value


def _merge(data: dict[str, Any], overrides: dict[str, dict[str, Any]]) -> dict[str, Any]:
    merged = {
        section: dict(values) if isinstance(values, dict) else values
        for section, values in data.items()
    }
    for section, values in overrides.items():
        table = merged.setdefault(section, {})
        if not isinstance(table, dict) or not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table")
        for key, value in values.items():
            if section == "boilerplate" and key == "rule_files" and isinstance(value, list):
                # Absolute, so that config_from_dict does not resolve them from base_dir.
                value = [str(Path(v).resolve()) if isinstance(v, str) else v for v in value]
            table[key] = value
    return merged

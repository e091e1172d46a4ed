"""README "Configuration" lists exactly the keys the configuration classes accept, with their
defaults: a key added to the code without a row (or a row for a key that is gone, or a default
that changed) fails here."""

from __future__ import annotations

import re
import tomllib
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import Any, get_type_hints

from cds_hooks.auth import TrustedClient
from service.config import Config

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| `(?P<key>[^`]+)` \| (?P<default>[^|]*) \|")


def readme_rows() -> dict[str, str]:
    section = README.read_text("utf-8").split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return {
        match["key"]: match["default"].strip()
        for line in section.splitlines()
        if (match := ROW.match(line))
    }


def default_of(item: Any) -> Any:
    if item.default is not MISSING:
        return item.default
    if item.default_factory is not MISSING:
        return item.default_factory()
    return MISSING


def model_keys() -> dict[str, Any]:
    """README spelling of every key -> its default (MISSING when required)."""
    keys: dict[str, Any] = {}
    for section in fields(Config):
        hints = get_type_hints(Config)
        section_type = hints[section.name]
        if not is_dataclass(section_type):
            keys[section.name] = default_of(section)
            continue
        section_default = default_of(section)
        for item in fields(section_type):
            value = getattr(section_default, item.name)
            if (section.name, item.name) == ("auth", "public_base_urls"):
                keys["public_base_urls"] = value  # a top-level key in the file
            elif (section.name, item.name) == ("auth", "clients"):
                for client_item in fields(TrustedClient):
                    keys[f"[[auth.clients]] {client_item.name}"] = default_of(client_item)
            elif (section.name, item.name) == ("policy", "unlisted_hold_days"):
                keys["[policy.unlisted_hold_days]"] = value
            else:
                keys[f"[{section.name}] {item.name}"] = value
    return keys


def as_toml(value: Any) -> Any:
    """The value as tomllib reads it back from the README's spelling."""
    if isinstance(value, tuple | frozenset):
        return sorted(as_toml(v) for v in value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: as_toml(v) for k, v in value.items()}
    return value


def test_every_key_has_a_row_and_every_row_a_key() -> None:
    rows, keys = readme_rows(), model_keys()
    assert sorted(set(keys) - set(rows)) == [], "keys without a README row"
    assert sorted(set(rows) - set(keys)) == [], "README rows for keys that do not exist"


def test_every_default_in_the_readme_is_the_code_s() -> None:
    keys = model_keys()
    checked = 0
    for key, cell in readme_rows().items():
        expected = keys[key]
        if cell == "—":  # no default: required, or absent unless given
            assert expected is MISSING or expected in (None, ()), f"{key}: default {expected!r}"
            continue
        assert expected is not MISSING, f"{key}: required, the README must say — as its default"
        literal = re.match(r"`([^`]*)`", cell)
        if literal is None:  # "all six": said in words
            assert key == "[triggers] procedures", f"{key}: give the default as a literal"
            continue
        shown = tomllib.loads(f"v = {literal[1]}")["v"]
        assert as_toml(shown) == as_toml(expected), key
        checked += 1
    assert checked >= 30

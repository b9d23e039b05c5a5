"""The user's settings file: today, a keymap that rebinds the app's keys by binding id.

``$XDG_CONFIG_HOME/berth/keymap.toml`` (``~/.config/...`` by default)::

    [keymap]
    "images.remove" = "delete"
    "app.quit" = "q,ctrl+q"

``BERTH_KEYMAP`` names another file; ``BERTH_KEYMAP=`` (empty) ignores any file,
which the tests use so a developer's own keymap never leaks into them.
"""

from __future__ import annotations

import os

__all__ = ["KeymapError", "keymap_path", "load_keymap"]

KEYMAP_FILE = ("berth", "keymap.toml")


class KeymapError(Exception):
    """The keymap file exists but does not parse, or holds something other than key strings."""


def keymap_path() -> str | None:
    """Where the keymap is read from; None when switched off."""
    if "BERTH_KEYMAP" in os.environ:
        return os.environ["BERTH_KEYMAP"] or None
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, *KEYMAP_FILE)


def load_keymap(path: str | None = None) -> dict[str, str]:
    """Binding id → comma-separated keys; {} when there is no file.

    Raises:
        KeymapError: the file is not valid TOML, or a value is not a string.
    """
    import tomllib

    path = keymap_path() if path is None else path
    if not path:
        return {}
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise KeymapError(f"{path}: {err}") from err
    table = data.get("keymap", {})
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise KeymapError(f"{path}: [keymap] must map binding ids to key strings")
    return {str(k): v for k, v in table.items()}

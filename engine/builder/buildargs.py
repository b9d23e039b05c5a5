"""ARG and ``--build-arg``: which values a stage may see, and how RUN records them.

The classic builder's rules: an ARG before the first FROM is a meta arg, seen
only by FROM lines (a stage's own bare ``ARG NAME`` brings its value in); a
stage sees an arg only from its ARG line on; ``--build-arg`` beats the
default; ENV beats both; the proxy variables are allowed without an ARG but
kept out of the cache key unless declared.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["BuildArgs", "BUILTIN_ARGS"]

BUILTIN_ARGS = frozenset({
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
    "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
})


class BuildArgs:
    """The build args of one stage, over the build's ``--build-arg`` values and meta args."""

    def __init__(self, given: Mapping[str, str], meta: Mapping[str, str | None], used: set[str]) -> None:
        self.given = dict(given)
        self.meta = dict(meta)
        self.declared: dict[str, str | None] = {}
        self._used = used
        """Shared by every stage: names some ARG declared, to warn about the rest."""

    def declare(self, key: str, default: str | None) -> None:
        self.declared[key] = default
        self._used.add(key)

    def _value(self, key: str, source: Mapping[str, str | None]) -> str | None:
        if key in self.given:
            return self.given[key]
        default = source.get(key)
        if default is None:
            return self.meta.get(key)
        return default

    def meta_values(self) -> dict[str, str]:
        """What FROM lines may expand: meta args with a value, ``--build-arg`` winning."""
        out = {}
        for key in self.meta:
            value = self.given.get(key, self.meta[key])
            if value is not None:
                out[key] = value
        return out

    def allowed(self, env: Mapping[str, str]) -> dict[str, str]:
        """Declared (and builtin) args with a value, minus those ENV sets: FilterAllowed."""
        out = {}
        for key in [*self.declared, *sorted(BUILTIN_ARGS)]:
            if key in env or key in out:
                continue
            value = self._value(key, self.declared) if key in self.declared else self.given.get(key)
            if value is not None:
                out[key] = value
        return out

    def expansion_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """What ``$VAR`` means in an instruction: the config's Env over the allowed args."""
        return {**self.allowed(env), **env}

    def run_prefix(self, env: Mapping[str, str]) -> list[str]:
        """``["|2", "A=1", "B=2"]`` for RUN's recorded command; [] when no arg applies."""
        allowed = self.allowed(env)
        if not allowed:
            return []
        kept = sorted(f"{k}={v}" for k, v in allowed.items() if k in self.declared or k not in BUILTIN_ARGS)
        return [f"|{len(kept)}", *kept]


def unconsumed(given: Mapping[str, str], used: set[str]) -> list[str]:
    """``--build-arg`` names no ARG declared (builtins never count), sorted."""
    return sorted(k for k in given if k not in used and k not in BUILTIN_ARGS)

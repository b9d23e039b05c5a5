"""Tags: ``repositories.json``, in the shape Docker's reference store writes."""

from __future__ import annotations

import json

from ..errors import StoreCorrupt
from ..reference import Reference
from . import atomic
from .paths import StorePaths

__all__ = ["TagStore"]


# Every tag is in the one file: without it no name resolves (image IDs still do), and none is guessed, since
# every image would then look untagged and ``image prune`` would take them all.
_FIX = "restore it, or move it aside: the images stay (by ID) and must be tagged again (berth tag ID NAME)"


class TagStore:
    """Reference → image ID; every write replaces the whole file atomically."""

    def __init__(self, paths: StorePaths) -> None:
        self.paths = paths

    def load(self) -> dict[str, dict[str, str]]:
        """``{familiar repo: {familiar ref: image id}}``."""
        try:
            with open(self.paths.repositories, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except (ValueError, OSError) as err:
            raise StoreCorrupt(f"{self.paths.repositories}: unreadable ({err}); {_FIX}") from err
        repos = data.get("Repositories") if isinstance(data, dict) else None
        if not isinstance(repos, dict) or not all(isinstance(r, dict) for r in repos.values()):
            raise StoreCorrupt(f"{self.paths.repositories}: unexpected shape; {_FIX}")
        return repos

    def save(self, repos: dict[str, dict[str, str]]) -> None:
        repos = {name: refs for name, refs in sorted(repos.items()) if refs}
        atomic.write_file(self.paths.repositories, json.dumps({"Repositories": repos}, sort_keys=True))

    def resolve(self, ref: Reference) -> str | None:
        return self.load().get(ref.familiar_name, {}).get(str(ref))

    def add(self, ref: Reference, image_id: str) -> str | None:
        """Point ``ref`` at ``image_id``; returns the image it pointed at before."""
        repos = self.load()
        refs = repos.setdefault(ref.familiar_name, {})
        previous = refs.get(str(ref))
        refs[str(ref)] = image_id
        self.save(repos)
        return previous

    def remove(self, ref: Reference) -> str | None:
        repos = self.load()
        refs = repos.get(ref.familiar_name, {})
        previous = refs.pop(str(ref), None)
        if previous is not None:
            self.save(repos)
        return previous

    def refs_for(self, image_id: str) -> list[str]:
        """Every reference that names ``image_id``, sorted."""
        return sorted(r for refs in self.load().values() for r, i in refs.items() if i == image_id)

    def remove_image(self, image_id: str) -> list[str]:
        """Drop every reference to ``image_id``; returns what was dropped."""
        repos = self.load()
        dropped = []
        for refs in repos.values():
            for r in [r for r, i in refs.items() if i == image_id]:
                del refs[r]
                dropped.append(r)
        if dropped:
            self.save(repos)
        return sorted(dropped)

    def all(self) -> dict[str, str]:
        return {r: i for refs in self.load().values() for r, i in refs.items()}

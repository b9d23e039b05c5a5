"""What each layer of an image adds, changes and deletes, and how much space the image wastes (as dive shows).

Read straight from the layers' diff dirs: a layer's diff holds the files it
wrote, a char device 0/0 for each path it deleted (an overlay whiteout), and
``trusted.overlay.opaque=y`` on each dir whose lower contents it hid. A path is
"changed" when a lower layer already had it. Wasted space is every byte a layer
wrote that a later layer overwrote or deleted; efficiency is the share of the
bytes written that is still visible at the top.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from .archive.formats import OVERLAY_OPAQUE_VALUE, OVERLAY_OPAQUE_XATTR
from .errors import LayerNotFound

if TYPE_CHECKING:
    from .context import StoreContext
    from .store.layers import Layer

__all__ = ["FileNode", "ImageEfficiency", "LayerContents", "WastedPath", "image_efficiency", "layer_contents"]

ADDED, CHANGED, DELETED, UNCHANGED = "A", "C", "D", ""
"""Kinds of a node, as ``diff`` prints them; UNCHANGED marks a dir that only holds changes."""

# How many of the worst paths ``image_efficiency`` reports (dive shows a similar top list).
TOP_WASTED = 50

# A merged view of the layers so far: a dir maps names to children, a file is its size.
_View = dict[str, Union["_View", int]]


@dataclass(frozen=True)
class FileNode:
    """One path in a layer's tree; a dir's size is the sum of its children's."""

    name: str
    kind: str
    """ADDED, CHANGED, DELETED or UNCHANGED."""
    size: int
    """Bytes this layer wrote at this path, or, when DELETED, the bytes it hid."""
    is_dir: bool
    children: tuple[FileNode, ...] = ()


@dataclass(frozen=True)
class LayerContents:
    """One layer's changes as a tree, with totals per kind."""

    chain_id: str
    diff_id: str
    size: int
    root: FileNode
    added: int
    """Paths added (files, links and dirs)."""
    changed: int
    deleted: int
    added_bytes: int
    changed_bytes: int
    deleted_bytes: int


@dataclass(frozen=True)
class WastedPath:
    """A path written more than once, or written and then deleted."""

    path: str
    layers: int
    """How many layers wrote or deleted it."""
    wasted: int
    """Bytes written at this path that are not visible at the top."""


@dataclass(frozen=True)
class ImageEfficiency:
    """dive's figures for one image: bytes written, bytes wasted, and their ratio."""

    image_id: str
    written: int
    wasted: int
    efficiency: float
    """1.0 when no byte is wasted; (written - wasted) / written otherwise."""
    paths: tuple[WastedPath, ...]
    """The worst paths, most bytes wasted first (at most TOP_WASTED)."""


# -- reading one diff dir --------------------------------------------------------


@dataclass
class _Entry:
    """One path in a diff dir; ``size`` is -1 for dirs."""

    path: tuple[str, ...]
    size: int
    whiteout: bool = False
    opaque: bool = False

    @property
    def is_dir(self) -> bool:
        return self.size < 0 and not self.whiteout


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OVERLAY_OPAQUE_XATTR, follow_symlinks=False) == OVERLAY_OPAQUE_VALUE
    except OSError:
        return False


def _scan(diff_dir: str) -> list[_Entry]:
    """Every path in ``diff_dir``, parents before children, without following links."""
    entries: list[_Entry] = []
    linked: set[int] = set()
    """Inodes already counted: a hard link's bytes are stored once (busybox has hundreds)."""
    stack: list[tuple[str, tuple[str, ...]]] = [(diff_dir, ())]
    while stack:
        directory, parts = stack.pop()
        with os.scandir(directory) as it:
            children = sorted(it, key=lambda e: e.name)
        for child in children:
            st = child.stat(follow_symlinks=False)
            path = (*parts, child.name)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                entries.append(_Entry(path, 0, whiteout=True))
            elif stat.S_ISDIR(st.st_mode):
                entries.append(_Entry(path, -1, opaque=_is_opaque(child.path)))
                stack.append((child.path, path))
            else:
                size = st.st_size if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode) else 0
                if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                    size = 0 if st.st_ino in linked else size
                    linked.add(st.st_ino)
                entries.append(_Entry(path, size))
    entries.sort(key=lambda e: e.path)
    return entries


# -- the merged view -------------------------------------------------------------


def _lookup(view: _View, path: tuple[str, ...]) -> _View | int | None:
    node: _View | int = view
    for name in path:
        if not isinstance(node, dict) or name not in node:
            return None
        node = node[name]
    return node


def _total(node: _View | int | None) -> int:
    """Bytes of the files under ``node`` (a loop, not a recursion: a layer chooses how deep its dirs go)."""
    return sum(size for _, size in _files(node, ())) if node is not None else 0


def _files(node: _View | int, prefix: tuple[str, ...]) -> list[tuple[tuple[str, ...], int]]:
    """Every file under ``node`` with its size, walked with a stack (a layer's dirs may nest thousands deep)."""
    found = []
    stack = [(prefix, node)]
    while stack:
        path, here = stack.pop()
        if isinstance(here, int):
            found.append((path, here))
        else:
            stack.extend(((*path, name), child) for name, child in reversed(here.items()))
    return found


def _parent(view: _View, path: tuple[str, ...]) -> _View:
    """The dir holding ``path``, made (as dirs) where missing or where a file stood."""
    node = view
    for name in path[:-1]:
        child = node.get(name)
        if not isinstance(child, dict):
            child = node[name] = {}
        node = child
    return node


def _apply(view: _View, entries: list[_Entry]) -> list[tuple[tuple[str, ...], int]]:
    """Lay one diff over ``view``; returns the files (path, size) it hid or overwrote."""
    hidden: list[tuple[tuple[str, ...], int]] = []
    for entry in entries:
        parent = _parent(view, entry.path)
        name = entry.path[-1]
        old = parent.get(name)
        if entry.is_dir:
            if isinstance(old, int):
                hidden.append((entry.path, old))
            if entry.opaque and isinstance(old, dict):
                hidden += _files(old, entry.path)
            if not isinstance(old, dict) or entry.opaque:
                parent[name] = {}
            continue
        if old is not None:
            hidden += _files(old, entry.path)
        if entry.whiteout:
            parent.pop(name, None)
        else:
            parent[name] = entry.size
    return hidden


# -- one layer's tree ------------------------------------------------------------


class _TreeBuilder:
    """Turns a diff's entries, seen against the view below, into FileNodes with counts."""

    def __init__(self, below: _View) -> None:
        self.below = below
        self.counts = {ADDED: [0, 0], CHANGED: [0, 0], DELETED: [0, 0]}

    def kind_of(self, entry: _Entry) -> tuple[str, int]:
        old = _lookup(self.below, entry.path)
        if entry.whiteout:
            return DELETED, _total(old)
        if entry.is_dir:
            if old is None or isinstance(old, int):
                return ADDED, 0
            return (CHANGED if entry.opaque else UNCHANGED), 0
        return (ADDED if old is None else CHANGED), entry.size

    def build(self, entries: list[_Entry]) -> FileNode:
        tree: dict[tuple[str, ...], list[FileNode]] = {(): []}
        # Children first (reverse of sorted order), so each dir is made from finished children.
        for entry in reversed(entries):
            kind, size = self.kind_of(entry)
            children = tuple(reversed(tree.pop(entry.path, [])))
            if entry.is_dir and entry.opaque:
                children += self._hidden_below(entry.path, {c.name for c in children})
            if entry.is_dir:
                size = sum(c.size for c in children if c.kind != DELETED)
            if kind != UNCHANGED:
                self.counts[kind][0] += 1
                self.counts[kind][1] += size if not entry.is_dir else 0
            node = FileNode(entry.path[-1], kind, size, entry.is_dir, children)
            tree.setdefault(entry.path[:-1], []).append(node)
        root_children = tuple(reversed(tree[()]))
        return FileNode("/", UNCHANGED, sum(c.size for c in root_children if c.kind != DELETED), True, root_children)

    def _hidden_below(self, path: tuple[str, ...], kept: set[str]) -> tuple[FileNode, ...]:
        """What an opaque dir hides: the lower dir's children this layer did not write again."""
        old = _lookup(self.below, path)
        if not isinstance(old, dict):
            return ()
        hidden = []
        for name in sorted(old):
            if name in kept:
                continue
            size = _total(old[name])
            self.counts[DELETED][0] += 1
            self.counts[DELETED][1] += size
            hidden.append(FileNode(name, DELETED, size, isinstance(old[name], dict)))
        return tuple(hidden)


def _diff_dir(store: StoreContext, layer: Layer) -> str:
    return store.paths.diff_dir(layer.cache_id)


def layer_contents(store: StoreContext, image_id: str, chain_id: str) -> LayerContents:
    """The tree of what ``chain_id`` (a layer of ``image_id``) adds, changes and deletes.

    Raises:
        LayerNotFound: the image has no such layer.
    """
    layers = store.images.image_layers(image_id)
    index = next((i for i, layer in enumerate(layers) if layer.chain_id == chain_id), None)
    if index is None:
        raise LayerNotFound(f"image {image_id[7:19]} has no layer {chain_id}")
    below: _View = {}
    for layer in layers[:index]:
        _apply(below, _scan(_diff_dir(store, layer)))
    builder = _TreeBuilder(below)
    root = builder.build(_scan(_diff_dir(store, layers[index])))
    counts = builder.counts
    layer = layers[index]
    return LayerContents(layer.chain_id, layer.diff_id, layer.size, root,
                         counts[ADDED][0], counts[CHANGED][0], counts[DELETED][0],
                         counts[ADDED][1], counts[CHANGED][1], counts[DELETED][1])


def image_efficiency(store: StoreContext, image_id: str) -> ImageEfficiency:
    """Bytes written by all layers, bytes later overwritten or deleted, and the ratio."""
    view: _View = {}
    written = 0
    touched: dict[tuple[str, ...], list[int]] = {}
    for layer in store.images.image_layers(image_id):
        entries = _scan(_diff_dir(store, layer))
        for path, size in _apply(view, entries):
            touched.setdefault(path, [1, 0])[1] += size
        for entry in entries:
            if not entry.is_dir:
                written += max(entry.size, 0)
                touched.setdefault(entry.path, [0, 0])[0] += 1
    wasted = sum(w for _, w in touched.values())
    worst = sorted(((p, c, w) for p, (c, w) in touched.items() if c > 1 or w), key=lambda t: (-t[2], t[0]))
    paths = tuple(WastedPath("/" + "/".join(p), c, w) for p, c, w in worst[:TOP_WASTED])
    efficiency = 1.0 if written == 0 else (written - wasted) / written
    return ImageEfficiency(image_id, written, wasted, efficiency, paths)

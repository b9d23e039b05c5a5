"""The lowest layer: ctypes wrappers for syscalls and the overlay mount helpers.

Both ``store`` (syncfs, overlay mounts of read-write layers) and ``runtime``
(namespaces, pivot_root, seccomp) need these, so they live below both. This
package imports nothing of the engine but ``engine.errors``; the rule is
checked by ``tests/engine/test_layering.py``.
"""

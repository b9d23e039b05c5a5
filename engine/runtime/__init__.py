"""Kernel-facing pieces: namespaces, cgroups, seccomp, the container process.

The ctypes syscalls and overlay mounts they use are in ``engine.kernel``.
"""

"""Kernel-facing pieces: syscalls, mounts, namespaces, cgroups, the container process."""

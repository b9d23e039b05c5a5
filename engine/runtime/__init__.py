"""Kernel-facing pieces: namespaces, cgroups, seccomp, the container process (syscalls and overlay mounts are in ``engine.kernel``)."""

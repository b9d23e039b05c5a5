"""Container networking: network records and IPAM (no pyroute2), and the kernel side (pyroute2, imported lazily).

Only ``links`` imports pyroute2 (bridges, veths, addresses, routes); ``netns``
uses plain syscalls, ``masquerade`` runs nft or iptables. ``networks``,
``subnets``, ``etcfiles`` and ``ports`` are pure Python, so ``create``, ``ps``
and ``images`` never pay pyroute2's ~150 ms import; the monitor pays it once.
"""

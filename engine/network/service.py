"""``NetworkService``: the ``network`` verbs over one store, and the event each change leaves.

Events: ``create`` and ``destroy`` (one per network a prune removes) carry the
network's ID and name; ``connect`` and ``disconnect`` carry the network's ID and,
as Docker's ``container`` attribute, the container's ID in the name field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..context import StoreContext

__all__ = ["NetworkService"]


class NetworkService:
    """Bridge networks of one store: records, bridges, NAT, and containers' endpoints on them."""

    def __init__(self, store: StoreContext) -> None:
        self.store = store

    def create(self, name: str, *, subnet: str = "", gateway: str = "",
               labels: dict[str, str] | None = None) -> str:
        from .networks import NetworkStore

        self.store.writable()
        rec = NetworkStore(self.store.paths).create(name, subnet, gateway, labels=labels)
        self.store.journal.append("network", "create", rec["Id"], name)
        return str(rec["Id"])

    def networks(self) -> list[dict[str, Any]]:
        from .manage import list_networks

        return list_networks(self.store)

    def inspect(self, name: str) -> dict[str, Any]:
        from .manage import inspect

        return inspect(self.store, name)

    def remove(self, name: str) -> str:
        from .networks import NetworkStore

        self.store.writable()
        rec = NetworkStore(self.store.paths).remove(name)
        self.store.journal.append("network", "destroy", rec["Id"], rec["Name"])
        return str(rec["Name"])

    def prune(self) -> list[str]:
        """Remove every user network without containers; a ``destroy`` event for each one removed."""
        from .networks import NetworkStore

        self.store.writable()
        networks = NetworkStore(self.store.paths)
        ids = {rec["Name"]: rec["Id"] for rec in networks.all().values()}
        removed = networks.prune()
        for name in removed:
            self.store.journal.append("network", "destroy", ids.get(name, ""), name)
        return removed

    def connect(self, network: str, container: str, *, ip: str = "") -> None:
        from .manage import connect, find

        self.store.writable()
        cid = self.store.records.resolve(container)
        connect(self.store, network, cid, ip)
        self.store.journal.append("network", "connect", str(find(self.store, network)["Id"]), cid)

    def disconnect(self, network: str, container: str, *, force: bool = False) -> None:
        from .manage import disconnect, find

        self.store.writable()
        cid = self.store.records.resolve(container)
        disconnect(self.store, network, cid, force)
        self.store.journal.append("network", "disconnect", str(find(self.store, network)["Id"]), cid)

    def notices(self) -> list[str]:
        """Things networking wants said once; read from the module only if it was loaded (nothing to say else)."""
        import sys

        module = sys.modules.get("engine.network.networks")
        if module is None:
            return []
        notices = list(module.NOTICES)
        module.NOTICES.clear()
        return notices

    def teardown(self) -> list[str]:
        from .manage import teardown_store

        return teardown_store(self.store.root)

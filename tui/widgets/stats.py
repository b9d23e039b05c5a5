"""``StatsView``: CPU % and memory sparklines of one container, under the containers table.

A timer asks for one sample a second while the view is on screen; the sample is
read in a thread worker (cgroup and /proc reads never run on the UI thread) and
comes back as ``StatsView.Sampled``. Hidden, or with another panel in front, the
timer is stopped or skips, so nothing is read that nobody sees.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Sparkline, Static

from ..format import human_size
from ..verbs.stats import binary_size

if TYPE_CHECKING:
    from engine import ContainerStats

__all__ = ["HISTORY", "SAMPLE_INTERVAL", "StatsView"]

SAMPLE_INTERVAL = 1.0
"""Seconds between samples: Docker's ``stats`` refreshes once a second too."""
HISTORY = 120
"""Samples the sparklines keep (two minutes; wider than any terminal's sparkline)."""


class StatsView(Vertical):
    """The selected container's live figures: CPU and memory as sparklines, the rest as one line."""

    DEFAULT_CSS = """
    StatsView { display: none; height: 6; border-top: solid $accent; padding: 0 1; }
    StatsView .stats-row { height: 1; }
    StatsView .stats-label { width: 34; }
    StatsView Sparkline { width: 1fr; height: 1; }
    StatsView #stats-title { text-style: bold; }
    StatsView #stats-other { color: $text-muted; }
    """

    @dataclass
    class Sampled(Message, bubble=False):
        """A sample read by the worker; only the newest matters."""

        stats: ContainerStats

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, StatsView.Sampled)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.container_id = ""
        """The container shown ("" for none)."""
        self.container_name = ""
        self.cpu: deque[float] = deque(maxlen=HISTORY)
        self.memory: deque[float] = deque(maxlen=HISTORY)
        self.last: ContainerStats | None = None
        """The newest sample: CPU % of the next one is measured from it."""
        self._timer: Timer | None = None
        self._reading = False
        """A sample is being read: the next tick waits for it rather than piling up threads."""

    def compose(self) -> ComposeResult:
        yield Static("", id="stats-title", markup=False)
        with Horizontal(classes="stats-row"):
            yield Static("CPU", id="stats-cpu-label", classes="stats-label", markup=False)
            yield Sparkline([], id="stats-cpu")
        with Horizontal(classes="stats-row"):
            yield Static("MEM", id="stats-mem-label", classes="stats-label", markup=False)
            yield Sparkline([], id="stats-mem")
        yield Static("", id="stats-other", markup=False)

    @property
    def running(self) -> bool:
        """The sampling timer is on."""
        return self._timer is not None

    def follow(self, cid: str, name: str) -> None:
        """Show container ``cid`` from now on (history restarts when it changes)."""
        if cid == self.container_id:
            return
        self.container_id, self.container_name, self.last = cid, name, None
        self.cpu.clear()
        self.memory.clear()
        self._render_figures()
        if self.running:
            self._tick()

    def start(self) -> None:
        """Begin sampling once a second (the view has just been shown)."""
        if self._timer is None:
            self._timer = self.set_interval(SAMPLE_INTERVAL, self._tick)
            self._tick()

    def stop(self) -> None:
        """Stop sampling (the view has been hidden)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def on_mount(self) -> None:
        self._render_figures()

    def on_unmount(self) -> None:
        self.stop()

    def _tick(self) -> None:
        if self._reading or not self.container_id or not self.is_on_screen or not self.screen.is_current:
            return
        self._reading = True
        self._read(self.container_id, self.last if self.last and self.last.id == self.container_id else None)

    @work(thread=True, group="stats", exit_on_error=False, description="Reading container stats")
    def _read(self, cid: str, previous: ContainerStats | None) -> None:
        from engine import ContainerNotFound

        try:
            stats = self.app.engine.container_stats(cid, previous=previous)  # type: ignore[attr-defined]
        except ContainerNotFound:
            return  # removed meanwhile: the table drops its row and the cursor moves on
        finally:
            self._reading = False
        self.post_message(self.Sampled(stats))

    @on(Sampled)
    def _sampled(self, event: Sampled) -> None:
        event.stop()
        s = event.stats
        if s.id != self.container_id:
            return  # read for a container no longer shown
        if self.last is not None or not s.running:
            self.cpu.append(s.cpu_percent)  # the first sample has no CPU figure yet
        self.memory.append(float(s.memory_usage))
        self.last = s
        self._render_figures()

    def _render_figures(self) -> None:
        s = self.last
        name = self.container_name or self.container_id[:12]
        if not self.container_id:
            title, cpu, mem, other = "Stats: no container selected", "CPU --", "MEM --", ""
        elif s is None:
            title, cpu, mem, other = f"Stats: {name}", "CPU --", "MEM --", "reading…"
        elif not s.running:
            title, cpu, mem, other = f"Stats: {name} (not running)", "CPU 0.00%", "MEM 0B / 0B", ""
        else:
            title = f"Stats: {name}"
            cpu = f"CPU {s.cpu_percent:.2f}% of {s.online_cpus} CPUs"
            mem = f"MEM {binary_size(s.memory_usage)} / {binary_size(s.memory_limit)} ({s.memory_percent:.2f}%)"
            other = (f"NET I/O {human_size(s.net_rx)} / {human_size(s.net_tx)}   "
                     f"BLOCK I/O {human_size(s.block_read)} / {human_size(s.block_write)}   PIDS {s.pids}")
        self.query_one("#stats-title", Static).update(title)
        self.query_one("#stats-cpu-label", Static).update(cpu)
        self.query_one("#stats-mem-label", Static).update(mem)
        self.query_one("#stats-other", Static).update(other)
        self.query_one("#stats-cpu", Sparkline).data = _padded(self.cpu)
        self.query_one("#stats-mem", Sparkline).data = _padded(self.memory)


def _padded(samples: deque[float]) -> list[float]:
    """The history with zeros before its first sample: a Sparkline scales from its smallest value, and the
    scale should start at 0 (99 % then 97 % is not "full, then empty"); new samples enter on the right."""
    return [0.0] * (HISTORY - len(samples)) + list(samples) if samples else []

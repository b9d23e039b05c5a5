"""The berth Textual app: images, layers, containers, disk usage and logs of one store.

Engine calls run in thread workers; only message handlers touch widgets. Every
change, ours or another terminal's, takes one path: the engine's event journal.
The store watcher reads it (every second, and at once after our own action),
posts ``StoreChanged`` and the panels reload what the events name (an action
never patches its own view, nor reloads everything). Whole reads happen only
at start-up and on ``r``. Failed workers all land in ``_worker_changed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
import traceback
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Header, Static
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

from engine import BerthError

from .commands import BerthCommands
from .format import human_size, short_id
from .keymap import BoundAction, bound_actions
from .messages import (
    ContainersLoaded,
    DiskUsageLoaded,
    EfficiencyLoaded,
    HistoryLoaded,
    ImagesLoaded,
    LayerContentsLoaded,
    StoreChanged,
)
from .screens.confirm import ConfirmScreen
from .screens.error import ErrorScreen
from .widgets.images_table import ImagesTable

if TYPE_CHECKING:
    from textual.widget import Widget

    from engine import ContainerSummary, Engine

__all__ = ["PANELS", "BerthApp", "run_app"]

PANELS = (("images", "Images"), ("history", "Layers"), ("containers", "Containers"), ("disk", "Disk"),
          ("logs", "Logs"))
"""Panel ids in number-key order."""
WATCH_INTERVAL = 1.0
"""Seconds between looks at the store for changes made elsewhere (issue 5 asks for ≤ 1 s)."""
SHELL = ["/bin/sh"]


class PanelBar(Static):
    """``1 Images  2 Layers  …`` with the current panel marked; the keys to get there are its labels."""

    COMPONENT_CLASSES = {"panel-bar--current"}
    DEFAULT_CSS = """
    PanelBar { height: 1; background: $panel; color: $text-muted; }
    PanelBar .panel-bar--current { background: $accent; color: $text; text-style: bold; }
    """

    def show(self, current: str) -> None:
        from rich.text import Text

        text = Text()
        for index, (panel_id, title) in enumerate(PANELS, 1):
            style = self.get_component_rich_style("panel-bar--current") if panel_id == current else ""
            text.append(f" {index} {title} ", style=style)
            text.append(" ")
        self.update(text)


class MainScreen(Screen[None]):
    """The five panels; Tab and shift+Tab cycle panels here (dialogs keep Tab for their fields).

    Only the images panel is composed; the other four (and their modules) are
    mounted right after the first frame, which then costs ~70 ms less.
    """

    AUTO_FOCUS = None

    BINDINGS = [
        Binding("tab", "app.cycle_panel(1)", "Next panel", show=False, id="panels.next"),
        Binding("shift+tab", "app.cycle_panel(-1)", "Previous panel", show=False, id="panels.previous"),
    ]

    def compose(self) -> ComposeResult:
        yield Header(icon="⚓")
        yield PanelBar(id="panel-bar")
        with ContentSwitcher(initial="images", id="panels"):
            yield ImagesTable(id="images")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(PanelBar).show("images")
        self.app.main_screen_ready()  # type: ignore[attr-defined]
        self.app._focus_panel("images")  # type: ignore[attr-defined]
        # A worker, so tests' (and scripts') workers.wait_for_complete() also waits for the panels' first load.
        self.run_worker(self._mount_panels(), group="panels", description="Opening the panels", exit_on_error=False)

    async def _mount_panels(self) -> None:
        first_frame = asyncio.Event()
        self.call_after_refresh(first_frame.set)
        await first_frame.wait()
        from .widgets.containers_panel import ContainersPanel
        from .widgets.disk_panel import DiskPanel
        from .widgets.history_panel import HistoryPanel
        from .widgets.logs_panel import LogsPanel

        panels = [HistoryPanel(id="history"), ContainersPanel(id="containers"), DiskPanel(id="disk"),
                  LogsPanel(id="logs")]
        for panel in panels:
            panel.display = False  # the switcher shows only its current child
        await self.query_one(ContentSwitcher).mount_all(panels)
        await self.app.panels_mounted()  # type: ignore[attr-defined]


class BerthApp(App[int]):
    """The keyboard-driven front end over one store."""

    CSS_PATH = "berth.tcss"
    TITLE = "berth"
    COMMANDS = App.COMMANDS | {BerthCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit", tooltip="Quit (asks first while a build or a pull runs)"),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Every key, by panel"),
        Binding("1", "panel('images')", "Images", show=False, id="panels.images"),
        Binding("2", "panel('history')", "Layers", show=False, id="panels.history"),
        Binding("3", "panel('containers')", "Containers", show=False, id="panels.containers"),
        Binding("4", "panel('disk')", "Disk", show=False, id="panels.disk"),
        Binding("5", "panel('logs')", "Logs", show=False, id="panels.logs"),
        Binding("r", "refresh", "Refresh", id="app.refresh", tooltip="Read the store again"),
        Binding("b", "bootstrap", "Bootstrap", id="app.bootstrap",
                tooltip="Make busybox:latest from the host's busybox-static"),
    ]

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time, *, watch: bool = True,
                 keymap: dict[str, str] | None = None) -> None:
        super().__init__()
        self.engine = engine
        """The engine every panel reads through."""
        self.clock = clock
        """Where "now" comes from for ages like "2 weeks ago" (frozen in snapshots)."""
        self.watch_changes = watch
        """Look at the store every second for changes from other terminals (off in snapshots)."""
        self.keymap: dict[str, str] = dict(keymap or {})
        """Binding id → keys, from the user's keymap file."""
        self.sub_title = engine.root
        self.history_image = ""
        """The image panel 2 shows."""
        self._events_offset: int | None = None
        """How far into the engine's event journal the app has read; None until the first look."""
        self._events_lock = threading.Lock()
        """Held while one reader moves ``_events_offset``: the watcher's tick and an action's read may overlap."""
        self.panels_ready = False
        """Panels 2–5 are mounted (they follow the first frame)."""
        self._container_rows: dict[str, ContainerSummary] = {}
        """The containers panel's rows by ID (UI thread only)."""
        self._containers_pending: set[str] | None = set()
        """Containers to read again (None: all of them), under ``_containers_pending_lock``."""
        self._containers_pending_lock = threading.Lock()
        self._containers_reader = threading.Lock()
        """Held by the one reader at work, so reads land in the order they were asked for."""
        self._after_panels: list[Callable[[], Any]] = []

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen()

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)

    def main_screen_ready(self) -> None:
        """The images panel exists: load it (the first frame shows it), note where the event journal ends."""
        self._events_offset = self.engine.events_offset()  # one stat; before the loads, so no change slips by
        self.load_images()

    async def panels_mounted(self) -> None:
        """Panels 2–5 exist: load them, start watching the store, and run what waited for them."""
        self.panels_ready = True
        # failures: _worker_changed; cancelled: a newer load runs
        with contextlib.suppress(WorkerFailed, WorkerCancelled):
            await self.load_containers().wait()
        if self.watch_changes:
            self.check_store()
            self.set_interval(WATCH_INTERVAL, self._tick)
        waiting, self._after_panels = self._after_panels, []
        for call in waiting:
            call()

    def with_panels(self, call: Callable[[], Any]) -> None:
        """Run ``call`` now if every panel is mounted, else as soon as they are (a key pressed in the first frame)."""
        if self.panels_ready:
            call()
        else:
            self._after_panels.append(call)

    def _panel(self, panel_id: str) -> Any:
        """Panel ``panel_id`` of the main screen (typed Any: its module is imported only once it is mounted)."""
        panel: Widget = self._main().query_one(f"#{panel_id}")
        return panel

    def _tick(self) -> None:
        self.check_store()
        self._panel("containers").tick(self.clock())

    def _main(self) -> MainScreen:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                return screen
        raise LookupError("the main screen is gone")

    # -- panels ------------------------------------------------------------------

    @property
    def current_panel(self) -> str:
        return self._main().query_one(ContentSwitcher).current or "images"

    def action_panel(self, panel_id: str) -> None:
        if not self.panels_ready:
            self.with_panels(lambda: self.action_panel(panel_id))
            return
        main = self._main()
        main.query_one(ContentSwitcher).current = panel_id
        main.query_one(PanelBar).show(panel_id)
        if panel_id == "history" and not self.history_image:
            chosen = main.query_one(ImagesTable).selected()
            if chosen is not None:
                self.show_history(chosen[1])
                return
        if panel_id == "disk":
            self.load_disk()
        self._focus_panel(panel_id)

    def _focus_panel(self, panel_id: str) -> None:
        panel = self._main().query_one(f"#{panel_id}")
        for widget in panel.query("DataTable, KeyedTable, LogView"):
            if widget.display and widget.focusable:
                widget.focus()
                return
        if panel.focusable:  # no table yet (an empty store): the panel itself, so its keys (n build, P pull) work
            panel.focus()
            return
        self._main().set_focus(None)  # nothing to focus: app keys still work

    def _focus_if_idle(self, panel_id: str) -> None:
        """A panel whose table just appeared (first data) takes focus if nothing has it."""
        main = self._main()
        focused = main.focused
        # Nothing, the panel itself while it was empty, or a table just hidden (its store emptied).
        idle = focused is None or focused.id == panel_id or not focused.display
        if self.screen is main and idle and self.current_panel == panel_id:
            self._focus_panel(panel_id)

    def action_cycle_panel(self, step: int) -> None:
        ids = [p for p, _ in PANELS]
        self.action_panel(ids[(ids.index(self.current_panel) + step) % len(ids)])

    # -- bindings, help, palette -------------------------------------------------

    def bound_actions(self) -> list[BoundAction]:
        """Every binding with an id: global ones first, then each panel's."""
        main = self._main()
        sections: list[tuple[str, Any]] = [("Global", self), ("Global", main)]
        for panel_id, _ in PANELS:
            for panel in main.query(f"#{panel_id}"):  # panels 2–5 are absent for the first frame
                sections.append((panel.PANEL_TITLE, panel))  # type: ignore[attr-defined]
        sections += [("Logs", view) for view in main.query("LogView")]
        return bound_actions(self, sections)

    def run_bound_action(self, action: BoundAction) -> None:
        """Run a palette choice as its key would: switch to its panel first."""
        if not self.panels_ready:
            self.with_panels(lambda: self.run_bound_action(action))
            return
        for panel_id, title in PANELS:
            if action.section == title and self.current_panel != panel_id:
                self.action_panel(panel_id)
        self.call_after_refresh(action.target.run_action, action.action)

    def action_help(self) -> None:
        if not self.panels_ready:
            self.with_panels(self.action_help)
            return
        from .config import keymap_path
        from .screens.help import HelpScreen

        self.push_screen(HelpScreen(self.bound_actions(), keymap_path()))

    # -- errors --------------------------------------------------------------------

    @on(Worker.StateChanged)
    def _worker_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            self.report_error(event.worker.description or event.worker.name, event.worker.error)

    def report_error(self, title: str, error: BaseException) -> None:
        """The one place failures surface: the engine's message as a notification, a bug as a modal."""
        if isinstance(error, BerthError):
            self.notify(str(error), title=f"{title} failed", severity="error", timeout=8)
            return
        if any(isinstance(s, ErrorScreen) for s in self.screen_stack):
            return  # one bug report at a time; the first is the one that matters
        details = "".join(traceback.format_exception(error))
        self.push_screen(ErrorScreen(f"{title}: this is a bug in berth",
                                     f"{type(error).__name__}: {error}", details))

    # -- quitting ------------------------------------------------------------------

    def _group_running(self, group: str) -> bool:
        return any(w.group == group and w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in self.workers)

    async def action_quit(self) -> None:
        running = [group for group in ("build", "pull") if self._group_running(group)]  # worker groups, named as said
        if not running:
            self.exit(0)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                for screen in self.screen_stack:
                    if getattr(screen, "cancel_event", None) is not None:
                        screen.cancel_event.set()  # type: ignore[attr-defined]
                self.exit(0)

        what, them = " and a ".join(running), ("them" if len(running) > 1 else f"the {running[0]}")
        self.push_screen(ConfirmScreen(f"A {what} {'are' if len(running) > 1 else 'is'} running. Quit anyway?",
                                       f"Quitting cancels {them}; the store stays as it was."),
                         answered)

    # -- loading -------------------------------------------------------------------

    def refresh_store(self) -> None:
        """Reload every panel's data: on r (our own actions wait for their events instead)."""
        self.post_message(StoreChanged(images=True, containers=True))

    def action_refresh(self) -> None:
        self.refresh_store()

    @on(StoreChanged)
    def _store_changed(self, event: StoreChanged) -> None:
        if event.images:
            self.load_images()
            if self.history_image:
                self.load_history(self.history_image)
        if event.containers and self.panels_ready:
            self.load_containers(event.container_ids)
        if self.current_panel == "disk":
            self.load_disk()

    @work(thread=True, exclusive=True, group="watch", exit_on_error=False, description="Watching the store")
    def check_store(self) -> None:
        """Posts StoreChanged when the engine's event journal says images or containers changed, in any process.

        A short worker started by a 1 s timer rather than one long loop, so
        ``workers.wait_for_complete()`` (and app exit) never waits on it; an
        action starts one too once its engine call returned (``after_action``).
        """
        with self._events_lock:
            if self._events_offset is None:
                return
            events, self._events_offset = self.engine.events_read(self._events_offset)
        kinds = {event.type for event in events}
        if kinds:
            # A network connect/disconnect names the container it changed (its NetworkSettings) as the name.
            changed = frozenset([e.id for e in events if e.type == "container"] +
                                [e.name for e in events if e.type == "network" and
                                 e.action in ("connect", "disconnect") and e.name])
            self.post_message(StoreChanged(images="image" in kinds or "container" in kinds and
                                           any(e.action in ("commit", "destroy") for e in events),
                                           containers=bool(changed), container_ids=changed))

    @work(thread=True, exclusive=True, group="images", exit_on_error=False, description="Reading images")
    def load_images(self) -> None:
        self.post_message(ImagesLoaded(tuple(self.engine.image_list(all=False))))

    @on(ImagesLoaded)
    def show_images(self, event: ImagesLoaded) -> None:
        self._main().query_one(ImagesTable).show(event.images, now=self.clock())
        self._focus_if_idle("images")

    def load_containers(self, ids: Collection[str] | None = None) -> Worker[None]:
        """Read every container again, or (``ids``) only those the event journal named.

        Requests pile up in one pending set that a single reader drains in order, so
        a partial read never overtakes a whole one and nothing asked for is dropped;
        with 2,000 containers a start elsewhere reads one record, not 2,000 (~260 ms).
        """
        with self._containers_pending_lock:
            if ids is None:
                self._containers_pending = None
            elif self._containers_pending is not None:
                self._containers_pending |= set(ids)
        return self._read_containers()

    @work(thread=True, group="containers", exit_on_error=False, description="Reading containers")
    def _read_containers(self) -> None:
        with self._containers_reader:
            with self._containers_pending_lock:
                ids, self._containers_pending = self._containers_pending, set()
            if ids is None:
                self.post_message(ContainersLoaded(tuple(self.engine.container_list(all=True, size=True))))
            elif ids:
                rows = self.engine.container_list(all=True, size=True, ids=ids)
                self.post_message(ContainersLoaded(tuple(rows), frozenset(ids)))

    @on(ContainersLoaded)
    def show_containers(self, event: ContainersLoaded) -> None:
        if event.ids is None:
            self._container_rows = {c.id: c for c in event.containers}
        else:
            for cid in event.ids:
                self._container_rows.pop(cid, None)
            self._container_rows.update((c.id, c) for c in event.containers)
        newest_first = sorted(self._container_rows.values(), key=lambda c: -c.created)  # stable: ties keep their order
        self._panel("containers").show(tuple(newest_first), self.clock())
        self._focus_if_idle("containers")

    @work(thread=True, exclusive=True, group="disk", exit_on_error=False, description="Reading disk usage")
    def load_disk(self) -> None:
        usage = self.engine.system_df()
        names = {}
        for image in self.engine.image_list(all=True):
            names[image.id] = image.repo_tags[0] if image.repo_tags else short_id(image.id)
        containers = tuple(self.engine.container_list(all=True, size=True))
        self.post_message(DiskUsageLoaded(usage, names, containers))

    @on(DiskUsageLoaded)
    def show_disk(self, event: DiskUsageLoaded) -> None:
        self._panel("disk").show(event.usage, event.names, event.containers)

    # -- layer history ---------------------------------------------------------------

    def show_history(self, image: str) -> None:
        """Switch to panel 2 on ``image``."""
        if not self.panels_ready:
            self.with_panels(lambda: self.show_history(image))
            return
        self.history_image = image
        self._panel("history").begin(image)
        self.action_panel("history")
        self.load_history(image)
        self.load_efficiency(image)

    @work(thread=True, exclusive=True, group="history", exit_on_error=False, description="Reading history")
    def load_history(self, image: str) -> None:
        self.post_message(HistoryLoaded(image, tuple(self.engine.image_history(image))))

    @on(HistoryLoaded)
    def _show_history(self, event: HistoryLoaded) -> None:
        self._panel("history").show_history(event.image, event.rows, self.clock())

    @work(thread=True, exclusive=True, group="layer", exit_on_error=False, description="Reading a layer")
    def load_layer(self, image: str, chain_id: str) -> None:
        self.post_message(LayerContentsLoaded(self.engine.image_layer_contents(image, chain_id)))

    @on(LayerContentsLoaded)
    def _show_layer(self, event: LayerContentsLoaded) -> None:
        self._panel("history").show_contents(event.contents)

    @work(thread=True, exclusive=True, group="efficiency", exit_on_error=False, description="Measuring waste")
    def load_efficiency(self, image: str) -> None:
        self.post_message(EfficiencyLoaded(self.engine.image_efficiency(image)))

    @on(EfficiencyLoaded)
    def _show_efficiency(self, event: EfficiencyLoaded) -> None:
        self._panel("history").show_efficiency(event.efficiency)

    # -- actions that change the store ---------------------------------------------

    def after_action(self) -> None:
        """Our engine call returned: read the journal now for the events it wrote, not a second later.

        Every store change the app can ask for appends its event before the call returns, so this
        is the panels' only reload after an action. UI thread; a worker calls it with ``call_from_thread``.
        """
        self.check_store()

    def run_engine(self, description: str, call: Callable[[], Any], done: Callable[[Any], str] | None = None) -> None:
        """Run one engine call in a worker; notify ``done(result)``, then read its events (errors go to the handler)."""

        def job() -> None:
            result = call()
            if done is not None:
                self.call_from_thread(self.notify, done(result), title=description)
            self.call_from_thread(self.after_action)

        self.run_worker(job, thread=True, group="engine", description=description, exit_on_error=False)

    def confirm(self, question: str, body: str, then: Callable[[], None]) -> None:
        """Ask first (a modal); run ``then`` on yes."""
        self.push_screen(ConfirmScreen(question, body), lambda yes: then() if yes else None)

    def action_bootstrap(self) -> None:
        self.notify("Making busybox:latest from /bin/busybox…", title="Bootstrap")
        self.run_engine("Bootstrap", lambda: self.engine.image_bootstrap("busybox:latest"),
                        lambda image_id: f"busybox:latest is ready ({short_id(image_id)})")

    def open_build(self) -> None:
        from .screens.build import BuildScreen

        self.push_screen(BuildScreen(os.getcwd()))

    def pull_image(self, name: str = "") -> None:
        """The pull dialog: asks for a reference, shows Docker's per-layer progress; the images panel reloads after."""
        from .screens.pull import PullScreen

        self.push_screen(PullScreen(name))

    def run_container(self, image: str) -> None:
        """The run dialog; the new container's log opens in panel 5."""
        from .screens.run import RunScreen

        def run(options: Any) -> None:
            if options is None:
                return
            if options.tty:
                self.run_here(options)
                return

            def job() -> None:
                cid = self.engine.container_create(options)
                self.engine.container_start(cid)
                self.call_from_thread(self._follow_new, cid, options.name or short_id(cid))
                self.call_from_thread(self.after_action)

            self.run_worker(job, thread=True, group="engine", description="Run", exit_on_error=False)

        self.push_screen(RunScreen(image), run)

    def run_here(self, options: Any) -> None:
        """``run -it`` from the dialog: the app suspends and the container gets this terminal until it ends."""
        from .terminal import run_here

        name = options.name or options.image
        cid, ended = self.on_terminal("Run", f"running {name} here; exit its command or detach with ctrl-p ctrl-q",
                                      lambda: run_here(self.engine, options)) or ("", "")
        if ended:
            self.notify(f"{options.name or short_id(cid)}: {ended}", title="Run")

    def on_terminal(self, title: str, banner: str, work: Callable[[], Any]) -> Any:
        """Suspend the app, say ``banner``, run ``work`` on this terminal, come back; its result (None if it failed).

        The one way exec, attach and ``run -it`` hand the terminal over; afterwards the journal tells
        what changed meanwhile (a create, a start, a die).
        """
        from textual.app import SuspendNotSupported

        result = None
        try:
            with self.suspend():
                print(f"berth: {banner}", flush=True)
                try:
                    result = work()
                except BerthError as err:
                    self.call_later(self.report_error, title, err)
        except SuspendNotSupported:
            self.notify("This terminal cannot be handed over (no suspend support).", title=title, severity="warning")
        self.after_action()
        return result

    def _follow_new(self, cid: str, name: str) -> None:
        self.notify(f"{name} is running", title="Run")
        self.action_panel("logs")
        self._panel("logs").follow_container(self.engine, cid, name)

    def tag_image(self, ref: str) -> None:
        from .screens.prompt import PromptScreen

        def tag(target: str | None) -> None:
            if target:
                self.run_engine("Tag", lambda: self.engine.image_tag(ref, target), lambda _: f"{ref} → {target}")

        self.push_screen(PromptScreen(f"Tag {ref} as", "NAME[:TAG]"), tag)

    def remove_image(self, ref: str) -> None:
        def remove() -> None:
            self.run_engine("Remove image", lambda: self.engine.image_remove(ref),
                            lambda items: "\n".join(f"{i.action}: {i.name}" for i in items))

        self.confirm(f"Remove image {ref}?", "Untags it, and deletes its layers if nothing else uses them.", remove)

    def prune(self, kind: str) -> None:
        """``images``, ``containers`` or ``volumes``: list what would go, ask, then prune."""
        from .prunes import PRUNES

        self._prune_preview(PRUNES[kind])

    @work(thread=True, exclusive=True, group="preview", exit_on_error=False, description="Listing what a prune removes")
    def _prune_preview(self, prune: Any) -> None:
        items = prune.candidates(self.engine)
        if not items:
            self.call_from_thread(self.notify, f"No {prune.noun}.", title=prune.title)
            return
        body = "\n".join(f"{label}  {human_size(size)}" for label, size in items)
        body += f"\n\n{prune.warning}" if prune.warning else ""

        def run() -> None:
            self.run_engine(prune.title, lambda: prune.run(self.engine),
                            lambda result: f"Deleted {len(result[0])}, reclaimed {human_size(result[1])}")

        self.call_from_thread(self.confirm, f"Remove {len(items)} {prune.noun}?", body, run)

    def inspect_image(self, ref: str) -> None:
        self._inspect(f"image inspect {ref}", lambda: self.engine.image_inspect(ref))

    def _inspect(self, title: str, call: Callable[[], Any], language: str = "json") -> None:
        from .screens.inspect import InspectScreen

        def job() -> None:
            data = call()
            self.call_from_thread(self.push_screen, InspectScreen(title, data, language=language))

        self.run_worker(job, thread=True, group="inspect", exclusive=True, description=title, exit_on_error=False)

    def save_log(self, name: str, entries: list[Any]) -> None:
        from .screens.prompt import PromptScreen

        def save(path: str | None) -> None:
            if not path:
                return

            def write() -> str:
                with open(path, "w", encoding="utf-8") as f:
                    f.writelines(e.log if e.log.endswith("\n") else e.log + "\n" for e in entries)
                return path

            self.run_worker(lambda: self.call_from_thread(self.notify, f"{len(entries):,} lines → {write()}",
                                                          title="Log saved"),
                            thread=True, group="save", description="Saving the log", exit_on_error=False)

        self.push_screen(PromptScreen("Save the log to", value=f"/tmp/{name or 'container'}.log"), save)

    # -- containers ------------------------------------------------------------------

    def container_action(self, action: str, c: ContainerSummary) -> None:
        """What a key in the containers panel asks for, on container ``c``."""
        engine, name = self.engine, c.name or short_id(c.id)
        running = c.state in ("running", "paused")
        simple: dict[str, tuple[str, Callable[[], Any]]] = {
            "start": ("Start", lambda: engine.container_start(c.id)),
            "stop": ("Stop", lambda: engine.container_stop(c.id)),
            "restart": ("Restart", lambda: engine.container_restart(c.id)),
            "pause": (("Unpause", lambda: engine.container_unpause(c.id)) if c.state == "paused"
                      else ("Pause", lambda: engine.container_pause(c.id))),
        }
        if action in simple:
            title, call = simple[action]
            self.run_engine(title, call, lambda _: f"{title}: {name}")
        elif action == "kill":
            self.confirm(f"Kill {name}?", "Sends SIGKILL to its processes.",
                         lambda: self.run_engine("Kill", lambda: engine.container_kill(c.id),
                                                 lambda _: f"Killed {name}"))
        elif action == "remove":
            body = "It is running: it will be killed first." if running else "Its writable layer is deleted."
            self.confirm(f"Remove container {name}?", body,
                         lambda: self.run_engine("Remove container",
                                                 lambda: engine.container_remove(c.id, force=running),
                                                 lambda _: f"Removed {name}"))
        elif action == "inspect":
            self._inspect(f"container inspect {name}", lambda: engine.container_inspect(c.id, size=True))
        elif action == "diff":
            self._inspect(f"diff {name}",
                          lambda: "\n".join(f"{ch.kind} {ch.path}" for ch in engine.container_changes(c.id))
                          or "(no changes)", language="text")
        elif action == "logs":
            self.action_panel("logs")
            self._panel("logs").follow_container(engine, c.id, name)
        elif action == "exec":
            self.exec_shell(c)
        elif action == "attach":
            self.attach(c)

    def attach(self, c: ContainerSummary) -> None:
        """The container's terminal or output on this terminal; the app suspends until it detaches or exits."""
        from .terminal import attach_here

        if c.state != "running":
            self.notify(f"{c.name} is not running.", title="Attach", severity="warning")
            return
        ended = self.on_terminal("Attach", f"attached to {c.name}; detach with ctrl-p ctrl-q (-t) or Ctrl-C",
                                 lambda: attach_here(self.engine.container_attach(c.id)))
        if ended:
            self.notify(f"{c.name}: {ended}", title="Attach")

    def exec_shell(self, c: ContainerSummary) -> None:
        """A shell in the container on this terminal; the app suspends until it exits."""
        if c.state != "running":
            self.notify(f"{c.name} is not running.", title="Shell", severity="warning")
            return
        self.on_terminal("Shell", f"shell in {c.name}; exit it to return to the app",
                         lambda: self.engine.container_exec(c.id, SHELL, stdin=0, stdout=1, stderr=2, tty=True))
        if self.panels_ready:
            self.load_containers([c.id])  # the shell may have grown its writable layer: no event says so


def run_app(root: str) -> int:
    """Open the app on the store at ``root``; returns its exit status."""
    from engine import Engine

    from .config import KeymapError, load_keymap

    try:
        keymap = load_keymap()
    except KeymapError as err:
        print(f"berth: ignoring the keymap: {err}")
        keymap = {}
    return BerthApp(Engine(root), keymap=keymap).run() or 0

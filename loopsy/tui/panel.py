"""What every tab of the dashboard shares: the client it reads through, the clock, a
reload worker, and how a failed call is shown."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, cast

import httpx
from textual.app import App, SystemCommand
from textual.containers import Vertical
from textual.dom import DOMNode
from textual.widget import Widget
from websockets.exceptions import WebSocketException

from loopsy.protocol.errors import LoopsyError

# A request cut short (the daemon stopped mid-answer) surfaces as one of these.
TRANSPORT_ERRORS = (httpx.HTTPError, WebSocketException, OSError)

if TYPE_CHECKING:
    from loopsy.client import LoopsyClient


class Dashboard(Protocol):
    """The app as its panels see it."""

    client: LoopsyClient
    clock: Callable[[], float]


def dashboard(node: DOMNode) -> Dashboard:
    return cast(Dashboard, node.app)


@contextlib.contextmanager
def reporting(node: Widget | App[Any], what: str) -> Iterator[None]:
    """Show a failed daemon call as a notification instead of ending the worker (and, with
    it, the app): the daemon's own errors, and connections that break mid-request."""
    try:
        yield
    except LoopsyError as exc:
        hint = f"\n{exc.hint}" if exc.hint else ""
        node.notify(f"{exc.message}{hint}", title=f"{what} failed", severity="error")
    except TRANSPORT_ERRORS as exc:
        node.notify(str(exc) or type(exc).__name__, title=f"{what} failed", severity="error")


class Panel(Vertical):
    """One tab. ``TOPICS``: the daemon event topics that concern it."""

    TOPICS: frozenset[str] = frozenset()

    @property
    def client(self) -> LoopsyClient:
        return dashboard(self).client

    def now(self) -> float:
        return dashboard(self).clock()

    _loading = False
    _again = False

    def reload(self) -> None:
        """Read the panel's data again, in a worker. Requests in flight are never cancelled
        (a burst of events costs at most one more read after the current one)."""
        if self._loading:
            self._again = True
            return
        self._loading = True
        self.run_worker(self._reload_until_current(), group="load")

    async def _reload_until_current(self) -> None:
        try:
            while True:
                self._again = False
                await self.load()
                if not self._again:
                    return
        finally:
            self._loading = False

    async def load(self) -> None:
        """Read the data and show it (the subclass's own)."""

    def apply_event(self, event: dict[str, Any]) -> None:
        """A daemon event of one of ``TOPICS``: by default, read the data again."""
        self.reload()

    def tick(self) -> None:
        """Time passed: ages shown as "3m ago" move on (no daemon call)."""

    def commands(self) -> Iterable[SystemCommand]:
        """This tab's entries in the command palette."""
        return ()

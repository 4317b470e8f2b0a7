"""The Sessions tab against the fake client: the list, live panes, typing, scrollback."""

from __future__ import annotations

import pytest
from textual import events

from loopsy.protocol.sessions import SessionExit
from loopsy.tui.app import LoopsyApp
from loopsy.tui.session_list import SessionList
from loopsy.tui.sessions_panel import SessionsPanel
from loopsy.tui.terminal_pane import TerminalPane
from tests.tui.fake import FakeClient
from tests.tui.pilot import SIZE, fake_app, settle, until

pytestmark = pytest.mark.anyio


def rows(app: LoopsyApp) -> int:
    return app.query_one(SessionList).row_count


async def test_sessions_list(fake: FakeClient, snap) -> None:
    """The Sessions tab: four sessions (claude-1 running, build running, shell-1 exited 0,
    codex-1 awaiting approval) with agent, cwd and age; the status bar shows version 0.1.0,
    node workstation, up 2h 05m, relay connected with 1 phone, LAN off, 1 approval
    waiting; the footer lists New, Attach, Kill, Restart, Remove, Detach."""
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: rows(app) == 4, "the session list")
        app.query_one(SessionList).focus()
        await settle(pilot)
        assert snap(app)


async def test_the_footer_fits_80_columns(fake: FakeClient) -> None:
    """Every key of the session list, Quit included, shows whole beside the palette's."""
    from textual.widgets._footer import FooterKey

    app = fake_app(fake)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: rows(app) == 4, "the session list")
        app.query_one(SessionList).focus()
        await settle(pilot)
        keys = list(app.screen.query(FooterKey))
        palette = next(k for k in keys if k.has_class("-command-palette"))
        shown = [k for k in keys if k is not palette]
        assert [k.description for k in shown][-1] == "Quit"
        assert all(k.region.right <= palette.region.x for k in shown)


def attachment(fake: FakeClient, ref: str):
    found = [a for a in fake.attachments if a.ref == ref]
    return found[-1] if found else None


def screen_text(found: TerminalPane) -> str:
    return "\n".join(found.terminal.text())


def pane(app: LoopsyApp) -> TerminalPane:
    return app.query_one(TerminalPane)


async def open_pane(pilot, app: LoopsyApp, fake: FakeClient, row: int = 0) -> TerminalPane:
    await until(pilot, lambda: rows(app) == 4, "the session list")
    table = app.query_one(SessionList)
    table.focus()
    table.move_cursor(row=row)
    await pilot.press("enter")
    ref = table.selected_id
    await until(pilot, lambda: attachment(fake, ref) is not None, "the attach")
    found = app.query_one(TerminalPane)
    await until(pilot, lambda: found.terminal.offset is not None, "the snapshot")
    return found


async def test_attach_shows_the_screen_in_colour(fake: FakeClient, snap) -> None:
    """claude-1 attached: a pane below the list with the agent's screen in colour (magenta
    title, green and red diff lines, a reverse-video prompt) and the block cursor after
    'Accept edit? (y/n)'; the pane's border is highlighted (focused) and shows its size;
    the footer offers only the pane's keys (^] Leave pane, scroll back/forward)."""
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        term = (await open_pane(pilot, app, fake)).terminal
        assert term.text()[0].startswith("✻ Claude Code")
        assert app.focused is pane(app)
        await settle(pilot)
        assert snap(app)


async def test_keys_become_the_bytes_a_terminal_sends(fake: FakeClient) -> None:
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await open_pane(pilot, app, fake)
        sent = attachment(fake, "a1b2c3d4")
        await pilot.press("h", "i", "enter", "up", "ctrl+c", "tab", "n", "q")
        await until(pilot, lambda: sent.inputs.endswith(b"nq"), "the typed keys")
        assert sent.inputs == b"hi\r\x1b[A\x03\tnq"  # n and q go to the program, not Textual
        sent.output(b"\x1b[?1h\x1b[?2004h")  # the program asks for DECCKM and bracketed paste
        await until(pilot, lambda: 1 in pane(app).terminal.dec_modes, "DECCKM")
        await pilot.press("up", "left")
        await until(pilot, lambda: sent.inputs.endswith(b"\x1bOD"), "application cursor keys")
        pane(app).post_message(events.Paste("a\nb"))
        await until(pilot, lambda: sent.inputs.endswith(b"\x1b[201~"), "the paste")
        assert sent.inputs.endswith(b"\x1bOA\x1bOD\x1b[200~a\rb\x1b[201~")
        before = sent.inputs
        await pilot.press("ctrl+right_square_bracket")  # leaves the pane, sends nothing
        await until(pilot, lambda: isinstance(app.focused, SessionList), "focus on the list")
        assert sent.inputs == before


async def test_output_is_painted_and_acknowledged(fake: FakeClient) -> None:
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        found = await open_pane(pilot, app, fake, row=1)
        sent = attachment(fake, "e5f6a7b8")
        sent.output(b"\r\nrebuilding...\r\n\x1b[31merror\x1b[0m: missing ;\r\n")
        await until(pilot, lambda: "rebuilding..." in screen_text(found), "the output")
        acks = lambda: [f.offset for f in sent.sent if type(f).__name__ == "Ack"]  # noqa: E731
        await until(pilot, lambda: acks() and acks()[-1] == sent.offset, "an ACK of it all")
        line = next(i for i, t in enumerate(found.terminal.text()) if t.startswith("error"))
        styles = [style for text, style in found.terminal.line(line) if text.strip()]
        assert styles[0].fg == 1  # red, as the program wrote it


async def test_two_panes_side_by_side_and_resize(fake: FakeClient, snap) -> None:
    """Two panes side by side under the list: claude-1 on the left (not focused now) and
    build on the right (focused, its screen shows 'make: watching for changes...' and a
    green ok); each border subtitle shows the pane's size."""
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        first = await open_pane(pilot, app, fake, row=0)
        wide = first.terminal.cols
        await pilot.press("ctrl+right_square_bracket", "down", "enter")
        await until(pilot, lambda: len(app.query(TerminalPane)) == 2, "a second pane")
        await until(pilot, lambda: first.terminal.cols < wide, "the first pane to narrow")
        sent = attachment(fake, "a1b2c3d4")

        def last_resize():
            resizes = [(f.cols, f.rows) for f in sent.sent if type(f).__name__ == "Resize"]
            return resizes[-1] if resizes else None

        size = lambda: (first.terminal.cols, first.terminal.rows)  # noqa: E731
        await until(pilot, lambda: last_resize() == size(), "the resize sent to the session")
        assert first.content_size.width == first.terminal.cols
        await until(pilot, lambda: app.query(TerminalPane)[1].terminal.offset is not None)
        await settle(pilot)
        assert snap(app)


async def test_scroll_back_and_forward(fake: FakeClient) -> None:
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        found = await open_pane(pilot, app, fake, row=1)
        sent = attachment(fake, "e5f6a7b8")
        sent.output(b"".join(b"line %d\r\n" % i for i in range(200)))
        await until(pilot, lambda: "line 199" in screen_text(found), "output")
        await pilot.press("shift+pageup")
        assert found.terminal.scroll > 0
        top = "".join(t for t, _ in found.terminal.line(0))
        assert top.startswith("line ")
        assert int(top.split()[1]) < 199 - found.terminal.rows
        assert "scrolled back" in str(found.border_subtitle)
        await pilot.press("shift+pagedown", "shift+pagedown", "shift+pagedown")
        await until(pilot, lambda: found.terminal.scroll == 0, "back to the live screen")
        await pilot.press("shift+pageup")
        await pilot.press("x")  # typing returns to the live screen
        assert found.terminal.scroll == 0


async def test_detach_closes_the_pane(fake: FakeClient) -> None:
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await open_pane(pilot, app, fake)
        await pilot.press("ctrl+right_square_bracket", "d")
        await until(pilot, lambda: not app.query(TerminalPane), "the pane to close")
        assert app.query_one(SessionsPanel).links == {}


async def test_exit_event_updates_the_list_and_the_pane(fake: FakeClient) -> None:
    from loopsy.protocol.stream import EXITED, Exit

    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        found = await open_pane(pilot, app, fake, row=1)
        sent = attachment(fake, "e5f6a7b8")
        sent.incoming.send_nowait(Exit(sent.offset, EXITED, 2))
        info = fake.sessions_data[1].model_copy(
            update={"state": "exited", "exit": SessionExit(reason="exited", code=2)}
        )
        fake.emit("sessions", "session.exited", info.model_dump(mode="json"))
        table = app.query_one(SessionList)
        await until(pilot, lambda: table.sessions["e5f6a7b8"].state == "exited", "the event")
        await until(pilot, lambda: "exited 2" in str(found.border_subtitle), "the pane's exit")
        assert "exited 2" in str(table.get_row("e5f6a7b8")[1])
        fake.emit("sessions", "session.removed", {"id": "e5f6a7b8", "name": "build"})
        await until(pilot, lambda: "e5f6a7b8" not in table.sessions, "the removal")


async def test_a_lost_stream_shows_in_the_pane_until_it_is_back(fake: FakeClient) -> None:
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        found = await open_pane(pilot, app, fake, row=1)
        fake.running = False  # the daemon stops: the stream ends, attaching again fails
        attachment(fake, "e5f6a7b8").close()
        await until(pilot, lambda: "reconnecting" in str(found.border_subtitle), "the state")
        assert "error" not in str(found.border_subtitle)  # a passing state, not a failure
        fake.running = True
        await until(
            pilot, lambda: len([a for a in fake.attachments if a.ref == "e5f6a7b8"]) == 2,
            "the attach again",
        )
        await until(pilot, lambda: "reconnecting" not in str(found.border_subtitle), "back")
        assert str(found.border_subtitle).endswith(f"{found.terminal.rows}")


async def test_the_mouse_works(fake: FakeClient) -> None:
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: rows(app) == 4, "the session list")
        await pilot.click("#--content-tab-peers")  # a tab, clicked
        await until(pilot, lambda: app.query_one("#tabs").active == "peers", "the Peers tab")
        await pilot.click("#--content-tab-sessions")
        table = app.query_one(SessionList)
        await pilot.click(SessionList, offset=(3, 2), times=2)  # a double click on build
        await until(pilot, lambda: attachment(fake, "e5f6a7b8") is not None, "the attach")
        found = pane(app)
        await until(pilot, lambda: found.terminal.offset is not None, "the snapshot")
        assert table.selected_id == "e5f6a7b8"
        sent = attachment(fake, "e5f6a7b8")
        sent.output(b"".join(b"\r\nline %d" % i for i in range(100)))
        await until(pilot, lambda: "line 99" in screen_text(found), "output")
        await pilot.mouse_down(TerminalPane)  # the wheel scrolls back while the program
        found.post_message(events.MouseScrollUp(found, 5, 5, 0, 0, 0, False, False, False))
        await until(pilot, lambda: found.terminal.scroll == 3, "the wheel")
        sent.output(b"\x1b[?1000h\x1b[?1006h")  # ...until it asks for the mouse itself
        await until(pilot, lambda: 1006 in found.terminal.dec_modes, "mouse mode")
        before = sent.inputs
        await pilot.click(TerminalPane, offset=(5, 3))
        await until(pilot, lambda: sent.inputs != before, "a mouse report")
        assert sent.inputs[len(before):].startswith(b"\x1b[<0;")

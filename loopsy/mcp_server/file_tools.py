"""MCP tools: files on a peer. Both ends go through a daemon, so each side's
``transfer.allowedPaths``/``deniedPaths`` confine what can be read and written (the MCP
server itself never opens the paths it is given)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel

from loopsy.mcp_server.deps import deps, failures, tool
from loopsy.protocol.errors import LoopsyError
from loopsy.protocol.files import FileListing


class Transferred(BaseModel):
    direction: Literal["push", "pull"]
    peer: str
    source: str
    destination: str
    size: int
    sha256: str


@contextlib.contextmanager
def _side(doing: str) -> Iterator[None]:
    """Two machines take part in a transfer: say which one failed, and at what."""
    try:
        yield
    except LoopsyError as exc:
        exc.message = f"{doing}: {exc.message}"
        raise


def register(server: MCPServer[Any]) -> None:
    @tool(server)
    async def loopsy_transfer_file(
        direction: Literal["push", "pull"],
        peer: str,
        source: str,
        destination: str,
        ctx: Context[Any, Any],
        overwrite: bool = False,
    ) -> Transferred:
        """Copy a file between this machine and `peer`. push: `source` is a path here,
        `destination` a path on the peer; pull: the other way round. Absolute paths, within
        each machine's allowed paths. Verified end to end by SHA-256; `overwrite` replaces
        an existing destination."""
        d = deps(ctx)
        stage = Path(tempfile.mkdtemp(prefix="loopsy-mcp-"))
        here, there = "this machine", repr(peer)
        try:
            with failures():
                remote = await d.target(peer)
                src, dst = (d.local, remote) if direction == "push" else (remote, d.local)
                src_at, dst_at = (here, there) if direction == "push" else (there, here)
                with _side(f"reading the source on {src_at}"):
                    pulled = await src.files.pull(source, stage / "file")
                with _side(f"writing the destination on {dst_at}"):
                    written = await dst.files.push(stage / "file", destination, overwrite=overwrite)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        return Transferred(
            direction=direction,
            peer=peer,
            source=source,
            destination=written.path,
            size=pulled.size,
            sha256=written.sha256,
        )

    @tool(server)
    async def loopsy_list_remote_files(
        path: str, ctx: Context[Any, Any], peer: str | None = None, limit: int = 500
    ) -> FileListing:
        """List a directory on `peer` (or here when no peer): names, types, sizes, times.
        Only within that machine's allowed paths."""
        with failures():
            return await (await deps(ctx).target(peer)).files.list(path, limit=limit)

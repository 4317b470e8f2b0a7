"""The official MCP inspector CLI (npm, pinned in tools/mcp-inspector, installed by
scripts/setup) drives `loopsy mcp` over stdio against a real daemon."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

INSPECTOR = ROOT / "tools" / "mcp-inspector" / "node_modules" / ".bin" / "mcp-inspector"


def inspector(cli: Cli, *args: str, expect_error: bool = False) -> dict[str, object]:
    if shutil.which("node") is None or not Path(INSPECTOR).exists():
        pytest.skip("the MCP inspector is not installed (scripts/setup installs it with npm)")
    result = subprocess.run(
        # like the agents' configs, the inspector passes the server only what it is told to
        [
            str(INSPECTOR),
            "--cli",
            "-e",
            f"LOOPSY_HOME={cli.home.root}",
            sys.executable,
            "-m",
            "loopsy",
            "mcp",
            *args,
        ],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # the inspector exits 5 when the tool answered isError
    assert result.returncode == (5 if expect_error else 0), (result.stdout, result.stderr)
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_inspector_lists_and_calls_tools(cli: Cli) -> None:
    cli("start", "--port", "0")
    listed = inspector(cli, "--method", "tools/list")
    names = {t["name"] for t in listed["tools"]}  # type: ignore[attr-defined]
    assert {"loopsy_list_peers", "loopsy_send_message", "loopsy_context_set"} <= names
    for tool in listed["tools"]:  # type: ignore[attr-defined]
        assert not tool["description"].startswith(" ")
    called = inspector(
        cli,
        "--method",
        "tools/call",
        "--tool-name",
        "loopsy_context_set",
        "--tool-arg",
        "key=inspected",
        "--tool-arg",
        "value=yes",
    )
    assert called.get("isError") is not True, called
    assert cli("context", "get", "inspected").stdout.strip().endswith("yes")
    peers = inspector(cli, "--method", "tools/call", "--tool-name", "loopsy_list_peers")
    assert peers["structuredContent"] == {"result": []}
    failed = inspector(
        cli,
        "--method",
        "tools/call",
        "--tool-name",
        "loopsy_peer_status",
        "--tool-arg",
        "peer=nobody",
        expect_error=True,
    )
    assert failed["isError"] is True
    assert "no peer named 'nobody'" in json.dumps(failed["content"])

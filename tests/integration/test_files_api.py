"""``/files`` over real sockets: list, push, pull; confinement; hostile input leaving every
file as it was."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import httpx
import pytest

from loopsy.client import LoopsyClient
from loopsy.config import Config
from loopsy.daemon.services import Services
from loopsy.protocol.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, ValidationFailed

pytestmark = pytest.mark.anyio

MAX = 256 * 1024


@pytest.fixture
def tree(daemon: Services) -> Path:
    """An allowed directory with a denied one inside, a sibling sharing its prefix, and
    an outside directory; the daemon confined to it, maxFileSize = 256 KiB."""
    base = daemon.home.root.parent.resolve()
    you = base / "you"
    (you / "sub").mkdir(parents=True)
    (you / "secret").mkdir()
    (base / "youngster").mkdir()
    (base / "outside").mkdir()
    (you / "old.txt").write_text("old content")
    (you / "old.txt").chmod(0o640)
    (you / "secret" / "key").write_text("secret")
    (base / "youngster" / "file.txt").write_text("not yours")
    (base / "outside" / "data.txt").write_text("outside")
    (you / "out-link").symlink_to(base / "outside" / "data.txt")
    (you / "out-dir").symlink_to(base / "outside")
    (you / "in-link").symlink_to("old.txt")

    def confine(config: Config) -> Config:
        config.transfer.allowed_paths = [str(you)]
        config.transfer.denied_paths = [str(you / "secret")]
        config.transfer.max_file_size = MAX
        config.rate_limits.transfer = 100_000
        return config

    daemon.config.update(confine)
    return base


@pytest.fixture
async def raw(daemon: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(uds=str(daemon.home.socket))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost/api/v1") as c:
        yield c


def snapshot(base: Path) -> dict[str, bytes | str]:
    """Every name under ``base`` with its content (or link target), to prove nothing moved."""
    found: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        if Path(dirpath) == base:
            dirnames.remove("home")  # the daemon's own LOOPSY_HOME (audit log, database)
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(base))
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                found[rel] = path.read_bytes()
            else:
                found[rel] = "dir"
    return found


async def test_list_shows_types_modes_and_symlinks(client: LoopsyClient, tree: Path) -> None:
    listing = await client.files.list(str(tree / "you"))
    assert listing.path == str(tree / "you")
    by_name = {e.name: e for e in listing.entries}
    assert [e.name for e in listing.entries] == sorted(by_name)
    assert by_name["old.txt"].type == "file"
    assert by_name["old.txt"].size == len("old content")
    assert by_name["old.txt"].mode == 0o640
    assert by_name["sub"].type == "dir"
    assert by_name["out-link"].type == "symlink"
    assert by_name["out-link"].target == str(tree / "outside" / "data.txt")
    assert by_name["in-link"].target == "old.txt"
    short = await client.files.list(str(tree / "you"), limit=2)
    assert len(short.entries) == 2 and short.truncated
    assert not listing.truncated


async def test_listing_a_file_says_it_is_not_a_directory(
    client: LoopsyClient, tree: Path
) -> None:
    for name in ("old.txt", "in-link"):  # a file, and a symlink to one
        with pytest.raises(ValidationFailed) as refused:
            await client.files.list(str(tree / "you" / name))
        assert str(refused.value) == f"{tree / 'you' / name} is not a directory"
        assert "loopsy files pull" in str(refused.value.hint)
    with pytest.raises(Conflict):  # through a file, as a directory
        await client.files.list(str(tree / "you" / "old.txt" / "x"))


async def test_push_pull_round_trip(client: LoopsyClient, tree: Path, tmp_path: Path) -> None:
    data = os.urandom(MAX)  # exactly at the limit
    local = tmp_path / "blob.bin"
    local.write_bytes(data)
    local.chmod(0o600)
    remote = str(tree / "you" / "sub" / "blob.bin")
    written = await client.files.push(local, remote)
    assert written.created and written.size == MAX
    assert written.sha256 == hashlib.sha256(data).hexdigest()
    assert Path(remote).read_bytes() == data
    assert stat.S_IMODE(Path(remote).stat().st_mode) == 0o600
    seen: list[tuple[int, int]] = []
    pulled = await client.files.pull(
        remote, tmp_path / "back.bin", progress=lambda d, t: seen.append((d, t))
    )
    assert (tmp_path / "back.bin").read_bytes() == data
    assert pulled.sha256 == written.sha256
    assert seen[-1] == (MAX, MAX)
    assert stat.S_IMODE((tmp_path / "back.bin").stat().st_mode) == 0o600


async def test_empty_file_and_awkward_names(
    client: LoopsyClient, tree: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    for name in ["empty", "sp ace", "new\nline", "%2e%2e", "☃.txt", "..."]:
        written = await client.files.push(empty, str(tree / "you" / name))
        assert written.size == 0
        assert (tree / "you" / name).read_bytes() == b""


async def test_overwrite_is_refused_unless_asked(
    client: LoopsyClient, tree: Path, tmp_path: Path
) -> None:
    local = tmp_path / "new.txt"
    local.write_text("new content")
    target = str(tree / "you" / "old.txt")
    with pytest.raises(Conflict) as info:
        await client.files.push(local, target)
    assert "already exists" in info.value.message and info.value.hint
    assert Path(target).read_text() == "old content"
    written = await client.files.push(local, target, overwrite=True, mode=None)
    assert not written.created
    assert Path(target).read_text() == "new content"
    # The pushed file's own mode is sent; the daemon applies what it is given.
    assert stat.S_IMODE(Path(target).stat().st_mode) == stat.S_IMODE(local.stat().st_mode)


async def test_replacing_keeps_the_old_mode_when_none_is_sent(
    raw: httpx.AsyncClient, tree: Path
) -> None:
    target = tree / "you" / "old.txt"
    response = await raw.put(
        "/files/content", params={"path": str(target), "overwrite": "true"}, content=b"v2"
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] is False
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    fresh = await raw.put("/files/content", params={"path": str(tree / "you/f")}, content=b"x")
    assert fresh.json()["created"] is True
    assert stat.S_IMODE((tree / "you/f").stat().st_mode) == 0o644


async def test_loopsy_home_is_never_served(
    client: LoopsyClient, daemon: Services, tree: Path, tmp_path: Path
) -> None:
    def open_everything(config: Config) -> Config:
        config.transfer.allowed_paths = ["/"]
        config.transfer.denied_paths = []
        return config

    daemon.config.update(open_everything)
    for name in ("config.yaml", "loopsy.db", "logs/audit.jsonl"):
        with pytest.raises(Forbidden):
            await client.files.pull(str(daemon.home.root / name), tmp_path / "stolen")
    with pytest.raises(Forbidden):
        await client.files.list(str(daemon.home.root))
    local = tmp_path / "evil.yaml"
    local.write_text("auth: {}")
    before = daemon.home.config_file.read_bytes()
    with pytest.raises(Forbidden):
        await client.files.push(local, str(daemon.home.config_file), overwrite=True)
    assert daemon.home.config_file.read_bytes() == before
    assert not (tmp_path / "stolen").exists()


READS = [
    ("youngster/file.txt", 403),
    ("you/../youngster/file.txt", 403),
    ("you/../outside/data.txt", 403),
    ("you/sub/../../../../../../etc/passwd", 403),
    ("you/out-link", 403),
    ("you/out-dir/data.txt", 403),
    ("you/secret/key", 403),
    ("you/missing.txt", 404),
    ("you/sub", 422),
]


@pytest.mark.parametrize(("rel", "status"), READS)
async def test_hostile_reads(
    raw: httpx.AsyncClient, tree: Path, rel: str, status: int
) -> None:
    before = snapshot(tree)
    response = await raw.get("/files/content", params={"path": f"{tree}/{rel}"})
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert snapshot(tree) == before


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"path": ""}, 422, "empty"),
        ({"path": "relative.txt"}, 422, "absolute"),
        ({"path": "~/x"}, 422, "absolute"),
        ({"path": "/you/a\x00b"}, 422, "NUL"),
        ({}, 422, "path"),
        ({"path": "/x", "bogus": "1"}, 422, "bogus"),
        ({"path": "/" + "a" * 5000}, 422, "limit"),
    ],
)
async def test_malformed_paths_everywhere(
    raw: httpx.AsyncClient, tree: Path, params: dict[str, str], status: int, words: str
) -> None:
    before = snapshot(tree)
    for method, url in (("GET", "/files/list"), ("GET", "/files/content"),
                        ("PUT", "/files/content")):
        response = await raw.request(method, url, params=params, content=b"x")
        assert response.status_code == status, (method, url, response.text)
        error = response.json()["error"]
        assert words in error["message"] or words in str(error.get("details")), error
    assert snapshot(tree) == before


WRITES = [
    ({"path": "{tree}/youngster/new.txt"}, 403),
    ({"path": "{tree}/you/../outside/new.txt"}, 403),
    ({"path": "{tree}/you/out-dir/new.txt"}, 403),
    ({"path": "{tree}/you/secret/new"}, 403),
    ({"path": "{tree}/you/secret/key", "overwrite": "true"}, 403),
    ({"path": "{tree}/you/out-link", "overwrite": "true"}, 409),  # never through a link
    ({"path": "{tree}/you/in-link", "overwrite": "true"}, 409),
    ({"path": "{tree}/you/sub", "overwrite": "true"}, 409),
    ({"path": "{tree}/you/old.txt"}, 409),
    ({"path": "{tree}/you/nodir/new.txt"}, 404),
    ({"path": "{tree}/you/"}, 422),
    ({"path": "{tree}/you/.."}, 422),
    ({"path": "{tree}/you/x", "mode": "4095"}, 422),  # setuid bits
    ({"path": "{tree}/you/x", "mode": "-1"}, 422),
    ({"path": "{tree}/you/x", "sha256": "abc"}, 422),
    ({"path": "{tree}/you/x", "sha256": "0" * 64}, 422),  # does not match: nothing stored
    ({"path": "{tree}/you/x", "overwrite": "perhaps"}, 422),
]


@pytest.mark.parametrize(("params", "status"), WRITES)
async def test_hostile_writes_leave_everything_intact(
    raw: httpx.AsyncClient, tree: Path, params: dict[str, str], status: int
) -> None:
    before = snapshot(tree)
    query = {k: v.format(tree=tree) for k, v in params.items()}
    response = await raw.put("/files/content", params=query, content=b"payload")
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]
    assert snapshot(tree) == before


async def test_oversize_push_stores_nothing(raw: httpx.AsyncClient, tree: Path) -> None:
    before = snapshot(tree)
    target = str(tree / "you" / "old.txt")
    declared = await raw.put(
        "/files/content",
        params={"path": target, "overwrite": "true"},
        content=b"x" * (MAX + 1),
    )
    assert declared.status_code == 413
    assert "maxFileSize" in declared.json()["error"]["message"]

    async def undeclared() -> AsyncIterator[bytes]:  # chunked: no Content-Length to check
        for _ in range(8):
            yield b"y" * (64 * 1024)

    streamed = await raw.put(
        "/files/content", params={"path": target, "overwrite": "true"}, content=undeclared()
    )
    assert streamed.status_code == 413
    assert snapshot(tree) == before


async def test_oversize_and_special_pulls(
    client: LoopsyClient, tree: Path, tmp_path: Path
) -> None:
    (tree / "you" / "huge.bin").write_bytes(b"z" * (MAX + 1))
    with pytest.raises(PayloadTooLarge):
        await client.files.pull(str(tree / "you" / "huge.bin"), tmp_path / "h")
    os.mkfifo(tree / "you" / "fifo")
    with anyio.fail_after(10):  # a FIFO must be refused, not read (which would block)
        with pytest.raises(ValidationFailed):
            await client.files.pull(str(tree / "you" / "fifo"), tmp_path / "f")
    with pytest.raises(NotFound):
        await client.files.pull(str(tree / "you" / "nope"), tmp_path / "n")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


async def test_interrupted_push_leaves_old_file_and_no_partial(
    daemon: Services, tree: Path
) -> None:
    """The client sends half the body and hangs up: nothing changes on disk."""
    before = snapshot(tree)
    finished = anyio.Event()
    unsubscribe = daemon.audit.subscribe(
        lambda record: finished.set() if record.get("method") == "PUT" else None
    )
    target = f"{tree}/you/old.txt".replace(" ", "%20")
    head = (
        f"PUT /api/v1/files/content?path={target}&overwrite=true HTTP/1.1\r\n"
        "Host: localhost\r\nContent-Length: 200000\r\n\r\n"
    ).encode()
    async with await anyio.connect_unix(str(daemon.home.socket)) as stream:
        await stream.send(head + b"p" * 100_000)
    with anyio.fail_after(10):
        await finished.wait()
    unsubscribe()
    assert snapshot(tree) == before


async def test_pull_of_a_changing_file_fails_the_hash_check(
    client: LoopsyClient, daemon: Services, tree: Path, tmp_path: Path
) -> None:
    """The daemon hashes first, then streams: a file rewritten in between (same size)
    reaches the client with a different hash, and the client keeps nothing."""
    target = tree / "you" / "moving.bin"
    target.write_bytes(b"a" * 1000)
    original = daemon.files.open_read

    async def open_then_rewrite(raw: str):  # type: ignore[no-untyped-def]
        opened = await original(raw)
        target.write_bytes(b"b" * 1000)  # same inode, same size, new bytes
        return opened

    daemon.files.open_read = open_then_rewrite  # type: ignore[method-assign]
    from loopsy.protocol.errors import ProtocolError

    with pytest.raises(ProtocolError):
        await client.files.pull(str(target), tmp_path / "moving.bin")
    assert list(tmp_path.iterdir()) == []


async def test_transfer_routes_are_in_openapi(client: LoopsyClient, tree: Path) -> None:
    doc = await client.openapi()
    put = doc["paths"]["/api/v1/files/content"]["put"]
    assert "application/octet-stream" in put["requestBody"]["content"]
    get = doc["paths"]["/api/v1/files/content"]["get"]
    assert "application/octet-stream" in get["responses"]["200"]["content"]
    assert put["x-rate-limit-category"] == "transfer"

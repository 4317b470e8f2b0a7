"""The context store's own rules, with an injected clock: TTL, versions, conditions,
limits, prefix listing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loopsy.daemon.context import ContextLimits, ContextStore, prefix_upper_bound
from loopsy.daemon.store import Store
from loopsy.protocol.errors import Conflict, PayloadTooLarge, ValidationFailed


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "t.db")
    yield store
    store.close()


@pytest.fixture
def ctx(db: Store, clock: Clock) -> ContextStore:
    return ContextStore(db, clock=clock)


def test_set_get_roundtrip_keeps_any_text(ctx: ContextStore) -> None:
    value = "line 1\nline 2\x00nul\ttab ☃ \U0001f600"
    entry = ctx.set("inbox:node-b:msg/../1", value)
    got = ctx.get("inbox:node-b:msg/../1")
    assert got is not None
    assert got.value == value
    assert got.version == entry.version
    assert got.expires_at is None
    assert ctx.get("inbox:node-b:msg/1") is None


def test_ttl_expires_at_once_and_is_purged(ctx: ContextStore, clock: Clock) -> None:
    ctx.set("short", "v", ttl=10)
    ctx.set("forever", "v")
    clock.now += 9.999
    assert ctx.get("short") is not None
    clock.now += 0.001
    assert ctx.get("short") is None
    assert [e.key for e in ctx.list().entries] == ["forever"]
    assert ctx.stats()[0] == 2  # still a row until purged
    assert ctx.purge_expired() == 1
    assert ctx.stats()[0] == 1
    assert ctx.purge_expired() == 0


def test_expired_key_counts_as_absent(ctx: ContextStore, clock: Clock) -> None:
    old = ctx.set("k", "v1", ttl=1)
    clock.now += 2
    with pytest.raises(Conflict):
        ctx.set("k", "x", if_version=old.version)
    new = ctx.set("k", "v2", if_absent=True)
    assert new.version > old.version
    assert ctx.delete("k") is True
    ctx.set("gone", "v", ttl=1)
    clock.now += 1
    assert ctx.delete("gone") is False


def test_versions_change_on_every_write_and_are_never_reused(
    db: Store, clock: Clock, tmp_path: Path
) -> None:
    ctx = ContextStore(db, clock=clock)
    seen = set()
    for i in range(5):
        seen.add(ctx.set("k", str(i)).version)
    last = ctx.set("other", "x").version
    seen.add(last)
    assert len(seen) == 6
    assert ctx.delete("other")
    db.close()
    # Reopened after the highest version was deleted: still never handed out again.
    reopened = ContextStore(Store(tmp_path / "t.db"), clock=clock)
    assert reopened.set("other", "y").version > last
    reopened.store.close()


def test_set_if_absent(ctx: ContextStore) -> None:
    first = ctx.set("msg:1", "hello", if_absent=True)
    with pytest.raises(Conflict) as info:
        ctx.set("msg:1", "again", if_absent=True)
    assert info.value.details == {"version": first.version}
    assert ctx.get("msg:1").value == "hello"  # type: ignore[union-attr]


def test_compare_and_set(ctx: ContextStore) -> None:
    v1 = ctx.set("counter", "1")
    v2 = ctx.set("counter", "2", if_version=v1.version)
    with pytest.raises(Conflict) as info:
        ctx.set("counter", "lost update", if_version=v1.version)
    assert info.value.details == {"version": v2.version}
    with pytest.raises(Conflict):
        ctx.set("missing", "x", if_version=1)
    assert ctx.get("missing") is None
    assert ctx.get("counter").value == "2"  # type: ignore[union-attr]
    with pytest.raises(ValidationFailed):
        ctx.set("counter", "x", if_absent=True, if_version=v2.version)


def test_conditional_delete(ctx: ContextStore) -> None:
    entry = ctx.set("k", "v")
    with pytest.raises(Conflict):
        ctx.delete("k", if_version=entry.version + 100)
    assert ctx.get("k") is not None
    assert ctx.delete("k", if_version=entry.version) is True
    assert ctx.delete("k") is False


@pytest.mark.parametrize(
    "key",
    ["", "a\x00b", "new\nline", "tab\there", "\x1b[31m", "del\x7f", "c1\x85", "x" * 513,
     "é" * 257, "lone\ud800"],
)
def test_bad_keys_are_refused_with_a_clear_error(ctx: ContextStore, key: str) -> None:
    ctx.set("sentinel", "kept")
    with pytest.raises(ValidationFailed) as info:
        ctx.set(key, "v")
    assert info.value.message.startswith("key")
    with pytest.raises(ValidationFailed):
        ctx.get(key)
    assert [e.key for e in ctx.list().entries] == ["sentinel"]


@pytest.mark.parametrize(
    "key", ["a", ":", "/", "..", "../../etc/passwd", "x" * 512, "é" * 256, "a b", "%2F", "☃"]
)
def test_printable_keys_are_fine(ctx: ContextStore, key: str) -> None:
    ctx.set(key, "v")
    assert ctx.get(key) is not None


def test_value_size_limit_names_the_limit(db: Store, clock: Clock) -> None:
    ctx = ContextStore(db, clock=clock, limits=ContextLimits(max_value_bytes=10))
    ctx.set("k", "0123456789")
    with pytest.raises(PayloadTooLarge) as info:
        ctx.set("k", "é" * 6)  # 6 characters, 12 bytes
    assert "value size limit is 10 bytes" in info.value.message
    assert ctx.get("k").value == "0123456789"  # type: ignore[union-attr]


def test_key_count_limit_frees_expired_rows_first(db: Store, clock: Clock) -> None:
    ctx = ContextStore(db, clock=clock, limits=ContextLimits(max_keys=3))
    ctx.set("a", "1")
    ctx.set("b", "2", ttl=5)
    ctx.set("c", "3")
    with pytest.raises(PayloadTooLarge) as info:
        ctx.set("d", "4")
    assert "key count limit" in info.value.message
    ctx.set("c", "overwrite is fine at the limit")
    clock.now += 5
    ctx.set("d", "4")  # b expired: its row is purged to make room
    assert [e.key for e in ctx.list().entries] == ["a", "c", "d"]
    assert ctx.stats()[0] == 3


def test_total_bytes_limit(db: Store, clock: Clock) -> None:
    ctx = ContextStore(db, clock=clock, limits=ContextLimits(max_total_bytes=20))
    ctx.set("k1", "12345678")  # 10 bytes
    ctx.set("k2", "12345678")  # 20 bytes
    with pytest.raises(PayloadTooLarge) as info:
        ctx.set("k3", "1")
    assert "total size limit is 20 bytes" in info.value.message
    ctx.set("k2", "1234")  # shrinking an entry is allowed
    ctx.set("k3", "12")
    assert ctx.stats() == (3, 20)


def test_totals_are_recounted_on_open(db: Store, clock: Clock, tmp_path: Path) -> None:
    ctx = ContextStore(db, clock=clock)
    ctx.set("a", "xyz")
    ctx.set("bb", "")
    ctx.delete("a")
    ctx.set("c", "1")
    expected = ctx.stats()
    assert expected == (2, 4)
    assert ContextStore(db, clock=clock).stats() == expected


def test_prefix_listing_in_order_with_pages(ctx: ContextStore) -> None:
    keys = ["inbox:b:3", "inbox:b:1", "inbox:a:1", "inbox:b:2", "inbox:b", "inbox:b;", "inboy"]
    for key in keys:
        ctx.set(key, key.upper())
    page = ctx.list("inbox:b:", limit=2)
    assert [e.key for e in page.entries] == ["inbox:b:1", "inbox:b:2"]
    assert page.next_after == "inbox:b:2"
    page = ctx.list("inbox:b:", after=page.next_after, limit=2)
    assert [e.key for e in page.entries] == ["inbox:b:3"]
    assert page.next_after is None
    assert [e.key for e in ctx.list("inbox:").entries] == sorted(k for k in keys if k != "inboy")
    assert ctx.list("nothing-here").entries == []


def test_listing_page_is_capped_by_bytes(db: Store, clock: Clock) -> None:
    ctx = ContextStore(db, clock=clock)
    big = "x" * (1 << 20)
    for i in range(6):
        ctx.set(f"big:{i}", big)
    page = ctx.list("big:", limit=1000)
    assert 1 <= len(page.entries) < 6
    assert page.next_after == page.entries[-1].key
    rest = ctx.list("big:", after=page.next_after, limit=1000)
    assert len(page.entries) + len(rest.entries) == 6
    assert rest.next_after is None


def test_listing_refuses_bad_limits_and_control_characters(ctx: ContextStore) -> None:
    with pytest.raises(ValidationFailed):
        ctx.list(limit=0)
    with pytest.raises(ValidationFailed):
        ctx.list(limit=1001)
    with pytest.raises(ValidationFailed):
        ctx.list("a\x00")


def test_ttl_bounds(ctx: ContextStore) -> None:
    for ttl in (0, -1, 10 * 365 * 86400 + 1):
        with pytest.raises(ValidationFailed):
            ctx.set("k", "v", ttl=ttl)
    assert ctx.get("k") is None


def test_prefix_upper_bound_edges() -> None:
    assert prefix_upper_bound("") is None
    assert prefix_upper_bound("ab") == "ac"
    assert prefix_upper_bound("a\U0010ffff") == "b"
    assert prefix_upper_bound("\U0010ffff\U0010ffff") is None
    assert prefix_upper_bound("a\ud7ff") == "a\ue000"


@given(
    prefix=st.text(st.characters(exclude_categories=("Cs",)), max_size=4),
    other=st.text(st.characters(exclude_categories=("Cs",)), max_size=6),
)
def test_prefix_upper_bound_separates_exactly(prefix: str, other: str) -> None:
    upper = prefix_upper_bound(prefix)

    def utf8(s: str) -> bytes:
        return s.encode("utf-8")

    inside = utf8(other) >= utf8(prefix) and (upper is None or utf8(other) < utf8(upper))
    assert inside == other.startswith(prefix)


@pytest.mark.anyio
async def test_purger_deletes_expired_rows_in_the_background(
    ctx: ContextStore, clock: Clock
) -> None:
    import anyio

    from loopsy.daemon.context import ContextPurger

    for i in range(5):
        ctx.set(f"short:{i}", "v", ttl=1)
    ctx.set("kept", "v")
    clock.now += 2
    async with anyio.create_task_group() as tg:
        tg.start_soon(ContextPurger(ctx, interval=0.001).run)
        with anyio.fail_after(10):
            while ctx.stats()[0] != 1:  # each pass of the purger is one event-loop turn
                await anyio.sleep(0.001)
        tg.cancel_scope.cancel()
    assert [e.key for e in ctx.list().entries] == ["kept"]

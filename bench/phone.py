"""Phone client benchmark: first paint of /app, the bundle's size, and whether the page
still answers a key press while it renders 10 MB of terminal output.

    python bench/phone.py            # 5 first-paint runs, 10 MB of output
    python bench/phone.py --quick    # 2 runs, 2 MB

A real daemon and a real `loopsy relay serve` (the browser tests' Stack: temporary
LOOPSY_HOME, 127.0.0.1) and Debian's /usr/bin/chromium driven by Playwright at 390x844.

- first paint: `first-contentful-paint` from the Performance API of a fresh profile's load
  of /app (the pairing screen) and of a paired profile's load (home); for the paired one
  also when the computer first answered (the page's `loopsy-online` mark: relay socket,
  KK handshake, first API answer);
- bundle: dist/index.html + app.js + app.css, raw and gzipped (level 9);
- output: `seq` prints N bytes into a shell; while the page renders them a key is pressed
  every 50 ms. A capture-phase keydown listener measures, for each press, the time from
  the event to the next frame after its handler ran (the page "answering"), plus the input
  delay (event timestamp to handler). Long tasks are counted with a PerformanceObserver.
"""

from __future__ import annotations

import argparse
import gzip
import math
import statistics
import sys
import time
from pathlib import Path

from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.browser.phone import Phone  # noqa: E402
from tests.browser.stack import APP_DIR, Stack  # noqa: E402

PHONE = {"viewport": ViewportSize(width=390, height=844), "is_mobile": True, "has_touch": True}
PROBE = """() => {
  window.bench = { answers: [], delays: [], longTasks: [], links: [], since: performance.now() };
  new MutationObserver(() => window.bench.links.push(document.body.dataset.link))
    .observe(document.body, { attributes: true, attributeFilter: ["data-link"] });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "x") return;  // the bench's presses, not the typed command
    const start = event.timeStamp;
    window.bench.delays.push(performance.now() - start);
    const answered = () => window.bench.answers.push(performance.now() - start);
    requestAnimationFrame(() => setTimeout(answered, 0));
  }, { capture: true });
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) window.bench.longTasks.push([e.startTime, e.duration]);
  }).observe({ type: "longtask", buffered: false });
}"""


def bundle_sizes() -> tuple[int, int]:
    raw = packed = 0
    for name in ("index.html", "app.js", "app.css"):
        data = (APP_DIR / name).read_bytes()
        raw += len(data)
        packed += len(gzip.compress(data, compresslevel=9))
    return raw, packed


def first_paint(page: Page, url: str, ready: str) -> float:
    page.goto(url)
    page.wait_for_selector(ready)
    page.wait_for_function(
        "() => performance.getEntriesByName('first-contentful-paint').length > 0"
    )
    return float(
        page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
    )


def seq_bytes(n: int) -> int:
    """Bytes `seq 1 n` puts on a terminal (each line ends in \\r\\n)."""
    return sum(len(str(i)) + 2 for i in range(1, n + 1))


def count_for(target: int) -> int:
    lo, hi = 1, target
    while lo < hi:
        mid = (lo + hi) // 2
        if seq_bytes(mid) < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank
    return f"median {statistics.median(ordered):.0f} ms, p95 {p95:.0f} ms, max {ordered[-1]:.0f} ms"


def paints(browser: Browser, stack: Stack, runs: int) -> Phone:
    """First paint of a fresh profile (pairing screen), then of a paired one (home)."""
    app = f"{stack.relay_url}/app/"
    cold = []
    for _ in range(runs):
        context = browser.new_context(**PHONE)
        cold.append(first_paint(context.new_page(), app, "#pair-link"))
        context.close()
    phone = Phone(browser.new_context(**PHONE), "bench")
    phone.pair(stack.pair_offer())
    warm = []
    online = []
    for _ in range(runs):
        page = phone.new_page()
        warm.append(first_paint(page, app, "#link-state.online"))
        online.append(page.evaluate("performance.getEntriesByName('loopsy-online')[0].startTime"))
        page.close()
    print(f"first paint, unpaired (pairing screen): {ms(cold)}; runs {[round(v) for v in cold]}")
    print(f"first paint, paired (home): {ms(warm)}; runs {[round(v) for v in warm]}")
    print(f"paired, computer online (relay, KK handshake, first answer): {ms(online)}")
    return phone


def flood(phone: Phone, stack: Stack, megabytes: float) -> None:
    """Render `megabytes` of output while pressing a key every 50 ms."""
    page = phone.new_page()
    page.goto(f"{stack.relay_url}/app/")
    phone.wait_online()
    phone.start("shell")
    phone.wait_prompt()
    count = count_for(int(megabytes * 1_000_000))
    page.evaluate(PROBE)
    start_offset = int(page.evaluate("window.loopsyDebug.offset()"))
    snapshots_before = page.evaluate("window.loopsyDebug.snapshots()")
    phone.type(f"seq 1 {count}; echo BENCH-DONE\r")
    began = time.monotonic()
    presses = 0
    while not page.evaluate("window.loopsyDebug.text(200).includes('\\nBENCH-DONE')"):
        assert presses < 12_000, "the output never finished"  # 10 minutes of presses
        page.keyboard.press("x")
        presses += 1
        page.wait_for_timeout(50)
    elapsed = time.monotonic() - began
    rendered = int(page.evaluate("window.loopsyDebug.offset()")) - start_offset
    renderer = page.evaluate("window.loopsyDebug.renderer()")
    bench = page.evaluate("window.bench")
    snapshots = page.evaluate("window.loopsyDebug.snapshots()") - snapshots_before
    closed = page.evaluate("window.loopsyDebug.lastClose()")
    assert not bench["links"], f"the connection dropped: {bench['links']}, last close {closed}"
    assert snapshots == 0, "the daemon sent a snapshot: bytes were skipped, not rendered"
    page.keyboard.press("Control+U")
    rate = rendered / 1e6 / elapsed
    print(
        f"output: {rendered / 1e6:.1f} MB rendered in {elapsed:.1f} s ({rate:.1f} MB/s), {renderer}"
    )
    print(f"key presses during output: {len(bench['answers'])} of {presses}")
    print(f"  answer (keydown to the next frame): {ms(bench['answers'])}")
    print(f"  input delay (event to handler): {ms(bench['delays'])}")
    tasks = [duration for start, duration in bench["longTasks"] if start >= bench["since"]]
    print(
        f"long tasks (> 50 ms) in the output: {len(tasks)}, longest {max(tasks, default=0):.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--megabytes", type=float, default=10.0)
    args = parser.parse_args()
    raw, packed = bundle_sizes()
    print(f"bundle: {raw / 1024:.1f} KiB raw, {packed / 1024:.1f} KiB gzipped")
    stack = Stack()
    try:
        stack.start()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            phone = paints(browser, stack, 2 if args.quick else args.runs)
            flood(phone, stack, 2.0 if args.quick else args.megabytes)
            browser.close()
    finally:
        stack.close()


if __name__ == "__main__":
    main()

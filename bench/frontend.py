"""Browser benchmark: does the dashboard keep up with 100 symbols updating 10 times a second?

    make bench-frontend        (or: python bench/frontend.py [--seconds 10])

One server with 100 simulated symbols at 1,000 trades/s (10 a second each), the dashboard in
headless Chromium (Debian's, through Playwright) following all of them. Over the window it
reports frames drawn per second, long tasks (main thread busy > 50 ms) and their total time,
and ticker updates received. The baseline, in the same run, is the same page rendering
every message at once and every watchlist row, on screen or not (what the page does without
`coalesce` and its row visibility tracking).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import free_port, start_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
MEASURE = """async (seconds) => {
  const longTasks = [];
  new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => e.duration)))
    .observe({ type: "longtask" });
  const client = window.tickstreamClient;
  const updates0 = client.stats.updates;
  let frames = 0;
  let running = true;
  let previous = null;
  const gaps = [];
  const count = (now) => {
    frames += 1;
    if (previous !== null) gaps.push(now - previous);
    previous = now;
    if (running) requestAnimationFrame(count);
  };
  requestAnimationFrame(count);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  running = false;
  const elapsed = (performance.now() - t0) / 1000;
  return {
    fps: Math.round(frames / elapsed),
    frame_p99_ms: Math.round(gaps.sort((a, b) => a - b)[Math.floor(gaps.length * 0.99)] || 0),
    long_tasks: longTasks.length,
    long_task_ms: Math.round(longTasks.reduce((a, b) => a + b, 0)),
    updates_per_s: Math.round((client.stats.updates - updates0) / elapsed),
    rows: document.querySelectorAll("#watchlist tr[data-symbol]").length,
  };
}"""


def patch(page: Any, module: str, old: str, new: str) -> None:
    def serve(route: Any) -> None:
        body = route.fetch().text()
        patched = body.replace(old, new.replace("$&", old))
        assert patched != body, f"{old!r} not found in {module}"
        route.fulfill(body=patched, content_type="text/javascript")

    page.route(f"**/static/tickstream/{module}", serve)


def measure(browser: Any, url: str, seconds: float, immediate: bool) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 860})
    page = context.new_page()
    if immediate:
        # The baseline: every message rendered at once, every row whether on screen or not.
        patch(
            page, "tickstream.js", "export function coalesce(key, fn) {", "$&\n  fn();\n  return;"
        )
        patch(page, "dashboard.js", "if (onScreen.has(q.symbol)) coalesce(", "coalesce(")
    page.goto(url)
    page.wait_for_function("window.tickstreamClient && window.tickstreamClient.stats.updates > 100")
    time.sleep(2)
    result: dict[str, Any] = page.evaluate(MEASURE, seconds)
    context.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    options = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as var:
        port = free_port()
        server = start_server("tickstream", port, 100, 1000, var, Path(var) / "server.log")
        try:
            time.sleep(2)
            url = f"http://127.0.0.1:{port}/?symbol=B000&interval=1s"
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=CHROMIUM,
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
                )
                runs = {}
                for label, immediate in [("coalesced (as shipped)", False), ("baseline", True)]:
                    runs[label] = [
                        measure(browser, url, options.seconds, immediate) for _ in range(3)
                    ]
                browser.close()
        finally:
            server.terminate()
            server.wait(20)
    print(
        "dashboard under load: 100 symbols x 10 updates/s, 1s candles of one, headless "
        f"Chromium, {options.seconds:g} s windows, median of 3\n"
    )
    print(
        f"  {'page':<26} {'fps':>5} {'frame p99 ms':>13} {'long tasks':>11} {'long ms':>8} "
        f"{'upd/s':>7} {'rows':>5}"
    )
    medians = {}
    for label, results in runs.items():
        med = {k: sorted(r[k] for r in results)[1] for k in results[0]}
        medians[label] = med
        print(
            f"  {label:<26} {med['fps']:>5} {med['frame_p99_ms']:>13} {med['long_tasks']:>11} "
            f"{med['long_task_ms']:>8} "
            f"{med['updates_per_s']:>7} {med['rows']:>5}"
        )
    mine, base = medians["coalesced (as shipped)"], medians["baseline"]
    print(
        f"\n  long-task time: {mine['long_task_ms']} ms against {base['long_task_ms']} ms "
        "in the baseline (every message, every row, at once)"
    )


if __name__ == "__main__":
    main()

"""Live portfolios benchmark: N portfolios of H holdings each, valued live by the Hub as
the simulated market trades R times a second, one websocket client per portfolio.

    make bench-portfolio        (or: python bench/portfolio.py [--quick])

One server process (the product as `make run` starts it, with the simulated market at R
trades/s over the 36 default instruments); the load generator (bench/loadgen.py) in
another. Two runs against the same server, back to back:

- idle: the same N clients connected, following nothing;
- one ticker: each follows one `ticker:` channel (one small frame per client per flush: the
  cost of delivery alone);
- tickers: each follows its portfolio's holdings' `ticker:` channels (a live page built on
  market data);
- portfolios: each client follows its own `portfolio:<id>`, all in USD of USD instruments;
- portfolios in EUR: the same, each in EUR holding as many instruments, most quoted in USD
  and some in EUR, GBP and JPY, with cash in USD and EUR: every price and the exchange
  rates (EUR-USD, GBP-USD, USD-JPY) move them.

Prints the server's CPU in both and the difference (the cost of live valuation), the
portfolio updates delivered per second and per portfolio (one per flush at most: the Hub
flushes every 100 ms), and the delay from the newest trade in an update to its receipt
(p50, p99, max).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fanout import (  # noqa: E402
    PY,
    drive,
    free_port,
    raise_fd_limit,
    rss_kb,
    stop,
    wait_port,
)

# A database with the instruments and a user "bench" (its token printed), then `user`.
SETUP_USER = """
import random, django
django.setup()
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from django.core.management import call_command
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from tickstream.market.models import Candle, Instrument
from tickstream.market.services import instruments_load
from tickstream.portfolio.core.records import record
from tickstream.portfolio.services import portfolio_create, transactions_import

call_command("migrate", verbosity=0)
instruments_load()
user = User.objects.create_user("bench", password="bench-password-1")
print(Token.objects.create(user=user).key)
"""
SETUP = (
    SETUP_USER
    + """rows = Instrument.objects.exclude(kind="fx").values_list(
    "symbol", "reference_price", "quote_currency", "quantity_step"
)
prices = {{s: p for s, p, _, _ in rows}}
steps = {{s: q for s, _, _, q in rows}}
dollars = sorted(s for s, _, c, _ in rows if c == "USD")
every = sorted(prices)
rng = random.Random(5)
now = datetime.now(UTC)


def made(n, currency, symbols):
    rows = [record({{"kind": "deposit", "quantity": "10000000", "time": "2024-01-02"}}, now)]
    if currency != "USD":
        rows.append(record({{"kind": "deposit", "quantity": "5000", "currency": "USD",
                             "time": "2024-01-03"}}, now))
    held = rng.sample(symbols, {holdings})
    for k, symbol in enumerate(held):
        rows.append(record({{
            "kind": "buy", "symbol": symbol,
            "quantity": str(rng.randint(1, 50) * steps[symbol]),
            "price": str(prices[symbol]), "time": (now - timedelta(days=30 - k)).isoformat(),
        }}, now))
    portfolio = portfolio_create(owner=user, name=f"{{currency}}{{n}}", currency=currency)
    transactions_import(portfolio=portfolio, records=rows)
    return portfolio.pk, held


ids = [made(n, "USD", dollars) for n in range({portfolios})]
fx = [made(n, "EUR", every) for n in range({portfolios})]
print(";".join(f"portfolio:{{pk}}" for pk, _ in fx))
print(";".join(f"portfolio:{{pk}}" for pk, _ in ids))
print(";".join(",".join(f"ticker:{{s}}" for s in held) for _, held in ids))
"""
)


def setup(var: str, portfolios: int, holdings: int) -> tuple[str, str, str, str]:
    """A database with one user owning `portfolios` portfolios of `holdings` holdings in
    USD and as many in EUR: the user's token, each client's EUR portfolio channel, its USD
    portfolio channel, and its USD holdings' tickers."""
    env = _env(var)
    code = SETUP.format(portfolios=portfolios, holdings=holdings)
    done = subprocess.run(
        [PY, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "tickstream.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    return lines[-4], lines[-3], lines[-2], lines[-1]


def _env(var: str, rate: float = 0) -> dict[str, str]:
    return {
        **os.environ,
        "TICKSTREAM_DEVELOPMENT": "true",
        "TICKSTREAM_VAR_DIR": var,
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "SIM_BACKFILL_S": "0",
        "SIM_RATE": str(rate),
        "SIM_SEED": "11",
        "FEEDS": "simulated",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="N=200, 8 s runs")
    parser.add_argument("--portfolios", type=int, default=1000)
    parser.add_argument("--holdings", type=int, default=20)
    parser.add_argument("--rate", type=float, default=1000)
    options = parser.parse_args()
    n = 200 if options.quick else options.portfolios
    seconds = 8 if options.quick else 20
    print(
        f"tickstream live-portfolio benchmark: N={n} portfolios x {options.holdings} holdings "
        f"(in USD: of the 36 USD instruments; in EUR: of all 40 stocks and crypto), "
        f"simulated market at {options.rate:,.0f} trades/s, "
        f"{os.cpu_count()} cores\n"
    )
    with tempfile.TemporaryDirectory() as var:
        started = time.monotonic()
        token, in_euros, portfolios, tickers = setup(var, n, options.holdings)
        print(f"  setup: {2 * n} portfolios written in {time.monotonic() - started:.0f} s")
        port = free_port()
        log = Path(var) / "server.log"
        server = subprocess.Popen(
            [PY, "-m", "tickstream", "run", "--port", str(port), "--log-level", "warning"],
            env=_env(var, options.rate),
            cwd=ROOT,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            preexec_fn=raise_fd_limit,
        )  # noqa: PLW1509
        try:
            wait_port(port)
            time.sleep(3)
            url = f"ws://127.0.0.1:{port}/ws/v1/?token={token}"
            runs: dict[str, dict[str, Any]] = {}
            # One ticker each: one small frame per client per flush, the delivery floor.
            single = ";".join(c.split(",")[0] for c in tickers.split(";"))
            for label, channels, idle in (
                ("idle", portfolios, True),
                ("one ticker", single, False),
                ("tickers", tickers, False),
                ("portfolios", portfolios, False),
                ("in euros", in_euros, False),
            ):
                listed = Path(var) / f"{label}.channels"
                listed.write_text(channels)
                extra = ["--kind", "portfolio", "--channels", str(listed)]
                runs[label] = drive(server.pid, url, extra, n, seconds, idle)
                if "error" in runs[label]:
                    print(f"  {label}: failed: {runs[label]['error']}")
                    print("\n".join(log.read_text().splitlines()[-5:]))
                    return
            report(runs, n, options.rate, rss_kb(server.pid))
        finally:
            stop(server)


def report(runs: dict[str, dict[str, Any]], n: int, rate: float, rss: int) -> None:
    idle, tickers, live = runs["idle"], runs["tickers"], runs["portfolios"]
    cpu = {label: r.get("server_cpu_pct") or 0 for label, r in runs.items()}
    print(
        f"  {'clients follow':<34} {'cpu%':>5} {'upd/s':>8} {'frames/s':>8} {'/client/s':>9} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'gaps':>5} {'gen%':>5}"
    )
    labels = {
        "idle": "nothing (connected)",
        "one ticker": "one ticker: channel each",
        "tickers": "their 20 holdings' ticker: channels",
        "portfolios": "their portfolio:<id> (USD)",
        "in euros": "their portfolio:<id> (EUR, 4 ccys)",
    }
    for label, r in runs.items():
        print(
            f"  {labels[label]:<34} {r.get('server_cpu_pct')!s:>5} "
            f"{r.get('updates_per_s', 0):>8,} {r.get('frames_per_s', 0):>8,} "
            f"{r.get('updates_per_s', 0) / n:>9.2f} {r.get('latency_ms_p50')!s:>7} "
            f"{r.get('latency_ms_p99')!s:>7} {r.get('latency_ms_max')!s:>7} "
            f"{r.get('seq_gaps', 0):>5} {r.get('loadgen_cpu_pct')!s:>5}"
        )
    extra = cpu["portfolios"] - cpu["idle"]
    print(
        f"\n  live valuation: {extra:+d} points of one core over idle clients "
        f"({cpu['idle']}% -> {cpu['portfolios']}%); one frame per client per flush alone "
        f"(one ticker each): {cpu['one ticker'] - cpu['idle']:+d} points"
    )
    if cpu["tickers"]:
        ratio = cpu["portfolios"] / cpu["tickers"]
        print(
            f"  against the same page built on ticker channels: {cpu['portfolios']}% vs "
            f"{cpu['tickers']}% ({100 * (ratio - 1):+.0f}%), "
            f"{live.get('frames_per_s', 0):,} vs {tickers.get('frames_per_s', 0):,} frames/s"
        )
    print(
        f"  each portfolio: {live.get('updates_per_s', 0) / n:.2f} updates/s (at most 10: one "
        f"per 100 ms flush); newest trade to receipt p50 {live.get('latency_ms_p50')} ms, "
        f"p99 {live.get('latency_ms_p99')} ms"
    )
    euros = runs["in euros"]
    usd_rate, eur_rate = live.get("updates_per_s", 0), euros.get("updates_per_s", 0)
    if cpu["portfolios"] > cpu["idle"] and usd_rate and eur_rate:
        # CPU per update delivered: a saturated core delivers fewer, so CPU % alone hides it
        per_usd = (cpu["portfolios"] - cpu["idle"]) / usd_rate
        per_eur = (cpu["in euros"] - cpu["idle"]) / eur_rate
        print(
            f"  multi-currency portfolios (EUR, holdings in USD, EUR, GBP and JPY, cash in two "
            f"currencies): {cpu['in euros']}% for {eur_rate / n:.2f} updates/s each vs "
            f"{cpu['portfolios']}% for {usd_rate / n:.2f} with USD-only: "
            f"{per_eur / per_usd:.2f}x the CPU per update over idle; p99 "
            f"{euros.get('latency_ms_p99')} ms vs {live.get('latency_ms_p99')} ms"
        )
    print(
        "  every client subscribed (its snapshots sent) before the measured window, within: "
        + ", ".join(f"{label} {r.get('subscribed_s')} s" for label, r in runs.items())
    )
    for label, r in runs.items():
        if r.get("unanswered") or r.get("closed"):
            print(
                f"  {label}: {r.get('unanswered')} clients closed before their subscription "
                f"was answered (not measured); close codes {r.get('closed')}; "
                f"refusals {r.get('refusals')}"
            )
    print(
        f"  server RSS at the end: {rss / 1024:.0f} MB; market {rate:,.0f} trades/s; idle run "
        f"{idle.get('updates_per_s', 0)} updates/s"
    )


if __name__ == "__main__":
    main()

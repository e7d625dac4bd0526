"""Alpaca's historical bars (`GET /v2/stocks/{symbol}/bars`) for stock backfill, against a
local server answering in the documented shape: `{"bars": [{"t", "o", "h", "l", "c", "v",
"n", "vw"}], "symbol", "next_page_token"}`, paged, with its errors."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import call_command
from django.test import override_settings

from tickstream.market.core.analytics.intervals import parse_interval
from tickstream.market.feeds.alpaca import AlpacaFeed, rfc3339_ns
from tickstream.market.feeds.base import FeedFailed

pytestmark = pytest.mark.timeout(30)

# Bars as the documentation shows them (its AAPL example and more of the same shape): one
# malformed (no close) and one that has not closed by the end asked for.
BARS = [
    {"t": "2022-01-03T09:00:00Z", "o": 178.26, "h": 178.26, "l": 178.21, "c": 178.21,
     "v": 1118, "n": 65, "vw": 178.235733},
    {"t": "2022-01-03T09:01:00Z", "o": 178.2, "h": 178.3, "l": 178.2, "c": 178.29,
     "v": 1549, "n": 38, "vw": 178.253278},
    {"t": "2022-01-03T09:02:00Z", "o": 178.3, "h": 178.31, "l": 178.29, "c": 178.29,
     "v": 1085, "n": 28, "vw": 178.301232},
    {"t": "2022-01-03T09:03:00Z", "o": 178.28, "h": 178.28, "l": 178.27, "v": 10, "n": 1},
    {"t": "2022-01-03T09:05:00Z", "o": 178.35, "h": 178.41, "l": 178.35, "c": 178.4,
     "v": 2219, "n": 40, "vw": 178.38},
    {"t": "2022-01-03T09:06:00Z", "o": 178.4, "h": 178.4, "l": 178.4, "c": 178.4,
     "v": 5, "n": 1, "vw": 178.4},
]  # fmt: skip
SINCE_MS = rfc3339_ns("2022-01-03T09:00:00Z") // 1_000_000
UNTIL_MS = rfc3339_ns("2022-01-03T09:06:30Z") // 1_000_000  # 09:06 has not closed
PAGE = 2  # the server's page size, so that the client must follow next_page_token


class BarsServer:
    def __init__(self, *, fail_first: int | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail_first = fail_first
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                key, secret = (self.headers.get(f"APCA-API-{h}") for h in ("KEY-ID", "SECRET-KEY"))
                server.requests.append({"path": url.path, "query": query, "key": key,
                                        "secret": secret})  # fmt: skip
                if self.headers.get("APCA-API-KEY-ID") != "k":
                    return self._send(401, {"message": "forbidden."})
                if server.fail_first is not None and len(server.requests) == 1:
                    return self._send(server.fail_first, {"message": "too many requests."})
                start = int(query.get("page_token", "0"))
                page = BARS[start : start + PAGE]
                token = str(start + PAGE) if start + PAGE < len(BARS) else None
                self._send(200, {"bars": page, "symbol": "AAPL", "next_page_token": token})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("Retry-After", "0.1")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> BarsServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def bars_server() -> Iterator[BarsServer]:
    with BarsServer() as server:
        yield server


def _feed(url: str, key: str = "k") -> AlpacaFeed:
    return AlpacaFeed({"AAPL": "AAPL"}, key=key, secret="s", rest_url=url)  # noqa: S106


def test_bars_become_closed_candles_with_the_numbers_as_sent(bars_server: BarsServer) -> None:
    progress: list[tuple[int, int, int]] = []
    rows = asyncio.run(
        _feed(bars_server.url).candles(
            "AAPL", parse_interval("1m"), SINCE_MS, UNTIL_MS, lambda *p: progress.append(p)
        )
    )
    expected = [b for b in BARS if "c" in b][:-1]  # the malformed one skipped, 09:06 forming
    assert [r.start for r in rows] == [rfc3339_ns(b["t"]) for b in expected]
    assert [(r.open, r.high, r.low, r.close, r.volume, r.trades) for r in rows] == [
        tuple(Decimal(str(b[k])) for k in "ohlcv") + (b["n"],) for b in expected
    ]
    assert all(r.closed and r.interval == "1m" and r.symbol == "AAPL" for r in rows)
    # Three pages, each asked with the documented parameters and the credentials.
    assert len(bars_server.requests) == 3
    first = bars_server.requests[0]
    assert first["path"] == "/v2/stocks/AAPL/bars" and (first["key"], first["secret"]) == ("k", "s")
    assert first["query"] == {
        "timeframe": "1Min", "start": "2022-01-03T09:00:00Z", "end": "2022-01-03T09:06:30Z",
        "limit": "10000", "adjustment": "raw", "feed": "iex",
    }  # fmt: skip
    assert [r["query"].get("page_token") for r in bars_server.requests] == [None, "2", "4"]
    assert progress[-1][0] == len(expected)


def test_refused_credentials_stop_and_a_rate_limit_is_waited_out(
    bars_server: BarsServer,
) -> None:
    with pytest.raises(FeedFailed, match="refused"):
        asyncio.run(_feed(bars_server.url, key="bad").candles(
            "AAPL", parse_interval("1m"), SINCE_MS, UNTIL_MS))  # fmt: skip
    assert len(bars_server.requests) == 1  # not retried
    with BarsServer(fail_first=429) as limited:
        rows = asyncio.run(
            _feed(limited.url).candles("AAPL", parse_interval("1m"), SINCE_MS, UNTIL_MS)
        )
        assert len(rows) == 4 and len(limited.requests) == 4  # the 429, then three pages
    with pytest.raises(FeedFailed, match="ALPACA_API_KEY"):
        asyncio.run(_feed(bars_server.url, key="").candles(
            "AAPL", parse_interval("1m"), SINCE_MS, UNTIL_MS))  # fmt: skip


@pytest.mark.django_db(transaction=True)  # the writer's store manages its connection itself
@override_settings(ALPACA_API_KEY="k", ALPACA_API_SECRET="s")  # noqa: S106
def test_manage_backfill_stores_a_stock_from_alpaca(
    bars_server: BarsServer, instruments: None
) -> None:
    from tickstream.market.models import Candle

    out = StringIO()
    call_command(
        "backfill", "AAPL", "--since", "2022-01-03T09:00:00Z", "--until",
        "2022-01-03T09:06:30Z", "--feeds", f"alpaca symbols=AAPL rest={bars_server.url}",
        stdout=out,
    )  # fmt: skip
    stored = list(Candle.objects.filter(instrument__symbol="AAPL", interval="1m"))
    assert [c.close for c in sorted(stored, key=lambda c: c.start)] == [
        Decimal("178.21"), Decimal("178.29"), Decimal("178.29"), Decimal("178.4"),
    ]  # fmt: skip
    # 09:00-09:05 is whole: its 5m candle rolled up; 09:05-09:10 is not, and --until is past.
    (five,) = Candle.objects.filter(instrument__symbol="AAPL", interval="5m")
    assert (five.open, five.high, five.low, five.close, five.volume, five.trades) == (
        Decimal("178.26"), Decimal("178.31"), Decimal("178.2"), Decimal("178.29"),
        Decimal(1118 + 1549 + 1085), 65 + 38 + 28,
    )  # fmt: skip
    assert "4 candles fetched" in out.getvalue()

"""Writes a writer batch to the database: upserts of candles and quotes, inserts of ticks."""

from __future__ import annotations

from django.db import close_old_connections, connections, transaction

from tickstream.market.models import Candle, Cryptocurrency, Instrument, Quote, Trade
from tickstream.market.persistence import Batch
from tickstream.market.ticks import ns_to_datetime

_CANDLE_FIELDS = ["open", "high", "low", "close", "volume", "trades", "closed"]
_QUOTE_FIELDS = ["last", "open", "high", "low", "prev_close", "volume", "vwap", "trades", "time"]


class BatchStore:
    """Writes batches; knows instrument ids by symbol and learns new ones as they appear."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._crypto_names: dict[str, str] = {}

    def _instrument_ids(self, symbols: set[str]) -> dict[str, int]:
        missing = symbols - self._ids.keys()
        if missing:
            for symbol, pk, kind, name in Instrument.objects.filter(symbol__in=missing).values_list(
                "symbol", "id", "kind", "name"
            ):
                self._ids[symbol] = pk
                if kind == Instrument.Kind.CRYPTO:
                    self._crypto_names[symbol] = name
        return self._ids

    def close(self) -> None:
        """Close this thread's database connections (the writer calls it when stopping)."""
        connections.close_all()

    def __call__(self, batch: Batch) -> None:
        close_old_connections()
        symbols = {row[0] for row in batch.candles} | {row[0] for row in batch.quotes}
        symbols |= {tick.symbol for tick in batch.ticks}
        ids = self._instrument_ids(symbols)
        candles = [
            Candle(
                instrument_id=ids[s],
                interval=i,
                start=ns_to_datetime(t),
                open=o,
                high=h,
                low=lo,
                close=c,
                volume=v,
                trades=n,
                closed=closed,
            )
            for (s, i, t, o, h, lo, c, v, n, closed) in batch.candles
            if s in ids
        ]
        quotes = [
            Quote(
                instrument_id=ids[s],
                last=last,
                open=o,
                high=h,
                low=lo,
                prev_close=pc,
                volume=v,
                vwap=vwap,
                trades=n,
                time=ns_to_datetime(ts),
            )
            for (s, last, o, h, lo, pc, v, vwap, n, ts) in batch.quotes
            if s in ids
        ]
        cryptos = [
            Cryptocurrency(
                name=self._crypto_names[s],
                instrument_id=ids[s],
                price=last,
                timestamp=ns_to_datetime(ts),
            )
            for (s, last, _o, _h, _lo, _pc, _v, _vw, _n, ts) in batch.quotes
            if s in self._crypto_names
        ]
        trades = [
            Trade(
                instrument_id=ids[t.symbol],
                price=t.price,
                size=t.size,
                ts_event=ns_to_datetime(t.ts_event),
                ts_recv=ns_to_datetime(t.ts_recv),
                source=t.source[:32],
                trade_id=t.trade_id,
            )
            for t in batch.ticks
            if t.symbol in ids
        ]
        with transaction.atomic():
            if candles:
                Candle.objects.bulk_create(
                    candles,
                    batch_size=500,
                    update_conflicts=True,
                    unique_fields=["instrument", "interval", "start"],
                    update_fields=_CANDLE_FIELDS,
                )
            if quotes:
                Quote.objects.bulk_create(
                    quotes,
                    batch_size=500,
                    update_conflicts=True,
                    unique_fields=["instrument"],
                    update_fields=_QUOTE_FIELDS,
                )
            if cryptos:
                Cryptocurrency.objects.bulk_create(
                    cryptos,
                    batch_size=500,
                    update_conflicts=True,
                    unique_fields=["instrument"],
                    update_fields=["name", "price", "timestamp"],
                )
            if trades:
                Trade.objects.bulk_create(trades, batch_size=1000)

"""The protocol's pure parts: client frames, channel names, the frame-size check and the
rate limit, without a socket."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tickstream.stream.core.protocol import (
    MAX_FRAME_BYTES,
    ErrorCode,
    ProtocolError,
    RateLimit,
    Request,
    check_frame_size,
    parse_channel,
    parse_request,
)

INTERVALS = frozenset({"1s", "1m", "1d"})


def refusal(raw: str | bytes, operations: frozenset[str] = frozenset()) -> tuple[str, object]:
    with pytest.raises(ProtocolError) as caught:
        parse_request(raw, operations)
    return str(caught.value.code), caught.value.request_id


def test_a_subscribe_is_parsed_with_duplicates_dropped_in_order() -> None:
    got = parse_request(
        '{"op": "subscribe", "id": 3, "channels": ["trades:AAPL", "ticker:AAPL", "trades:AAPL"],'
        ' "since": {"trades:AAPL": 12}, "epoch": 99}'
    )
    assert got == Request("subscribe", 3, ("trades:AAPL", "ticker:AAPL"), {"trades:AAPL": 12}, 99)


def test_ping_and_an_apps_operation() -> None:
    assert parse_request(b'{"op": "ping", "id": "p"}') == Request("ping", "p")
    frame = '{"op": "order.place", "id": 1, "symbol": "AAPL"}'
    got = parse_request(frame, frozenset({"order.place"}))
    assert (got.op, got.id, got.params["symbol"]) == ("order.place", 1, "AAPL")
    # An operation no app registered is unknown, and the message lists what there is.
    code, request_id = refusal(frame)
    assert (code, request_id) == (ErrorCode.UNKNOWN_OP, 1)


@pytest.mark.parametrize(
    ("frame", "code", "request_id"),
    [
        ("{not json", ErrorCode.BAD_JSON, None),
        ("[1, 2]", ErrorCode.BAD_FRAME, None),
        ('{"op": "subscribe", "id": 1}', ErrorCode.BAD_FRAME, 1),
        ('{"op": "subscribe", "id": 1, "channels": []}', ErrorCode.BAD_FRAME, 1),
        ('{"op": "subscribe", "id": 1, "channels": [7]}', ErrorCode.BAD_FRAME, 1),
        ('{"op": "subscribe", "id": 2, "channels": ["a"], "since": {"a": -1}}', "bad_frame", 2),
        ('{"op": "subscribe", "id": 2, "channels": ["a"], "since": {"a": true}}', "bad_frame", 2),
        ('{"op": "subscribe", "id": 2, "channels": ["a"], "since": [1]}', "bad_frame", 2),
        ('{"op": "subscribe", "id": 2, "channels": ["a"], "epoch": "1"}', "bad_frame", 2),
        ('{"op": "subscribe", "id": 4, "channels": ["ticker:A\\u0000"]}', ErrorCode.BAD_TEXT, 4),
        ('{"op": "dance", "id": 5}', ErrorCode.UNKNOWN_OP, 5),
        ('{"id": 6}', ErrorCode.UNKNOWN_OP, 6),
    ],
)
def test_a_bad_frame_is_refused_with_its_code_and_id(
    frame: str, code: str, request_id: object
) -> None:
    assert refusal(frame) == (str(code), request_id)


def test_the_frame_size_is_counted_in_utf8_bytes() -> None:
    check_frame_size("a" * MAX_FRAME_BYTES)
    check_frame_size(b"a" * MAX_FRAME_BYTES)
    with pytest.raises(ProtocolError) as caught:
        check_frame_size(b"a" * (MAX_FRAME_BYTES + 1))
    assert caught.value.code == ErrorCode.FRAME_TOO_LARGE
    # 4,096 characters of 4 bytes each are exactly the limit; one more is over it.
    check_frame_size("\U0001f600" * (MAX_FRAME_BYTES // 4))
    with pytest.raises(ProtocolError):
        check_frame_size("\U0001f600" * (MAX_FRAME_BYTES // 4) + "a")
    assert refusal("[" + " " * MAX_FRAME_BYTES + "]")[0] == ErrorCode.FRAME_TOO_LARGE


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_any_frame_parses_or_is_refused_with_a_code(raw: str | bytes) -> None:
    try:
        parse_request(raw)
    except ProtocolError as exc:
        assert exc.code in set(ErrorCode)


def test_channel_names_by_shape() -> None:
    ref = parse_channel("candles:BTC-USD:1m", INTERVALS, request_id=1)
    assert (ref.kind, ref.symbol, ref.interval, ref.public) == ("candles", "BTC-USD", "1m", True)
    for name, code in [
        ("", ErrorCode.UNKNOWN_CHANNEL),
        ("x" * 65, ErrorCode.UNKNOWN_CHANNEL),
        ("weather:AAPL", ErrorCode.UNKNOWN_CHANNEL),
        ("ticker", ErrorCode.UNKNOWN_CHANNEL),
        ("ticker:aapl", ErrorCode.UNKNOWN_CHANNEL),
        ("candles:AAPL:7m", ErrorCode.BAD_INTERVAL),
    ]:
        with pytest.raises(ProtocolError) as caught:
            parse_channel(name, INTERVALS, request_id=9)
        assert (caught.value.code, caught.value.request_id) == (code, 9), name


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_rate_limit_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    limit = RateLimit(rate=20.0, burst=40, clock=clock)
    assert all(limit.allow() for _ in range(40))
    assert not limit.allow()  # the burst is spent and no time passed
    clock.now += 0.5  # half a second earns 10 messages
    assert sum(limit.allow() for _ in range(20)) == 10
    clock.now += 3600  # a long quiet refills to the burst, never beyond
    assert sum(limit.allow() for _ in range(100)) == 40

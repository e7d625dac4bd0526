"""Where strategy code comes from: a file a user names on the command line, or, for hosted
strategies, one of the sources the server offers (the examples, and the `.py` files of
STRATEGY_DIR). Loading a file runs it: the server only loads what its operator put there.
"""

from __future__ import annotations

import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tickstream.common.core.edge import NumberError, parse_decimal
from tickstream.strategy.core.api import Strategy

EXAMPLES = Path(__file__).parent / "examples"


class StrategyError(Exception):
    """Something the user must fix: the message says what."""


@dataclass(frozen=True, slots=True)
class Source:
    name: str  # the file's stem: `sma_crossover`
    path: Path
    doc: str


def load_strategy(path: str | Path, name: str | None = None) -> type[Strategy]:
    """The Strategy subclass a file defines (the one named `name`, or its only one)."""
    file = Path(path)
    if not file.is_file():
        raise StrategyError(f"no file {path}")
    spec = importlib.util.spec_from_file_location(f"strategy_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise StrategyError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise StrategyError(f"{path} failed to load: {type(exc).__name__}: {exc}") from None
    found = {
        n: c
        for n, c in vars(module).items()
        if inspect.isclass(c) and issubclass(c, Strategy) and c is not Strategy
        and c.__module__ == module.__name__
    }  # fmt: skip
    if name is not None:
        if name not in found:
            raise StrategyError(f"{path} defines no Strategy named {name}")
        return found[name]
    if len(found) != 1:
        names = ", ".join(sorted(found)) or "none"
        raise StrategyError(f"{path} defines {len(found)} strategies ({names}): name one")
    return next(iter(found.values()))


def param_value(value: Any) -> Any:
    """A parameter as a strategy takes it: numbers as int or Decimal, `true`/`false` as
    bool, else text (from `--param key=value` or a hosted strategy's JSON)."""
    if isinstance(value, bool | int):
        return value
    if not isinstance(value, str):
        raise StrategyError(f"a parameter must be text, a number or a boolean: {value!r}")
    if value in ("true", "false"):
        return value == "true"
    try:
        number = parse_decimal(value)
    except NumberError:
        return value
    return int(number) if number == number.to_integral_value() and "." not in value else number


def make_strategy(
    cls: type[Strategy], symbol: str, params: dict[str, Any], interval: str | None = None
) -> Strategy:
    """`cls` made with `symbol=` and `params`; a strategy that takes an `interval` and is not
    given one gets the candles the runner keeps (`interval`)."""
    values = {k: param_value(v) for k, v in params.items()}
    if interval is not None and "interval" not in values:
        if "interval" in inspect.signature(cls).parameters:
            values["interval"] = interval
    try:
        return cls(symbol=symbol, **values)  # type: ignore[call-arg]
    except (TypeError, ValueError) as exc:
        raise StrategyError(f"{cls.__name__}: {exc}") from None


def offered() -> dict[str, Source]:
    """The sources a hosted strategy may use, by name (a STRATEGY_DIR file of an example's
    name wins)."""
    from django.conf import settings

    files = sorted(EXAMPLES.glob("*.py"))
    if settings.STRATEGY_DIR:
        files += sorted(Path(settings.STRATEGY_DIR).glob("*.py"))
    sources = {}
    for file in files:
        if file.stem.startswith("_"):
            continue
        sources[file.stem] = Source(file.stem, file, _first_line(file))
    return sources


def _first_line(file: Path) -> str:
    text = file.read_text(errors="replace").lstrip()
    if text.startswith('"""'):
        return text[3:].split("\n\n", 1)[0].replace('"""', "").replace("\n", " ").strip()
    return ""

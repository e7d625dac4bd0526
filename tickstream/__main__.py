"""The tickstream command line: `python -m tickstream run|analyze ...`."""

from __future__ import annotations

import argparse
import os
import sys


def run(argv: list[str]) -> int:
    """Migrate, load instruments (and the demo user in development), serve on uvicorn."""
    parser = argparse.ArgumentParser(prog="python -m tickstream run")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    parser.add_argument(
        "--ws",
        default=os.environ.get("WS_IMPL", "websockets-sansio"),
        choices=["websockets", "websockets-sansio"],
        help="uvicorn's websocket implementation",
    )
    parser.add_argument(
        "--no-prepare",
        action="store_true",
        help="skip migrations and instruments (`split` prepares the database once)",
    )
    options = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tickstream.settings")
    import django
    import uvicorn
    from django.conf import settings
    from django.core.management import call_command

    from tickstream.stream.server import uvicorn_options

    django.setup()
    if not options.no_prepare:
        call_command("migrate", interactive=False, verbosity=0)
        if settings.DEVELOPMENT:
            call_command("setup_demo")
            call_command("setup_demo_data")
        else:
            call_command("load_instruments")
    if not settings.DEVELOPMENT:
        call_command("collectstatic", interactive=False, verbosity=0)
    ws_options = uvicorn_options(settings)
    if options.ws == "websockets":  # uvicorn's other implementation (no direct writes)
        ws_options["ws"] = "websockets"
    print(f"tickstream at http://{options.host}:{options.port}/  (Ctrl-C stops)", flush=True)
    uvicorn.run(
        "tickstream.asgi:application",
        host=options.host,
        port=options.port,
        lifespan="on",
        log_level=options.log_level,
        proxy_headers=True,
        backlog=4096,
        **ws_options,
    )
    return 0


def main() -> int:
    commands = {"run": run, "analyze": None, "split": None, "strategy": None}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.stderr.write(
            "usage: python -m tickstream {run,split,analyze,strategy} ...\n"
            "  run      start the server (migrates, loads instruments)\n"
            "  split    a feed process and several web processes on Redis and PostgreSQL\n"
            "  analyze  candles and indicators of a price file as CSV\n"
            "  strategy backtest a strategy file on a price file\n"
        )
        return 2
    command, rest = sys.argv[1], sys.argv[2:]
    if command == "split":
        from tickstream.split import main as split_main

        return split_main(rest)
    if command == "strategy":
        from tickstream.strategy.cli import main as strategy_main

        return strategy_main(rest)
    if command == "analyze":
        from tickstream.market.analyze import main as analyze_main

        return analyze_main(rest)
    return run(rest)


if __name__ == "__main__":
    sys.exit(main())

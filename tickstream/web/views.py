"""Pages: server-rendered shells whose live parts are small ES modules on the stream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.generic import TemplateView

from tickstream.alerts.selectors import first_watchlist_symbols, watchlist_list
from tickstream.market.selectors import instrument_specs
from tickstream.portfolio import selectors as portfolios
from tickstream.portfolio.core.costbasis import Method
from tickstream.portfolio.models import Portfolio
from tickstream.portfolio.services import PortfolioError, portfolio_create
from tickstream.trading.services import account_get_or_create


class MarketPage(TemplateView):
    """A page whose scripts follow the market: it carries the active instruments (symbol,
    name, kind, currency, tick size) for them, read once per page view."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {
            **super().get_context_data(**kwargs),
            "instruments": [
                {
                    "symbol": s.symbol,
                    "name": s.name,
                    "kind": s.kind.value,
                    "currency": s.quote_currency,
                    "tick_size": str(s.tick_size),
                    "quantity_step": str(s.quantity_step),
                }
                for s in instrument_specs(active_only=True)
            ],
        }


class DashboardView(MarketPage):
    """`/`: watchlist, live candle chart with indicators, symbol search."""

    template_name = "web/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        # A signed-in user with a watchlist sees it (in its order), and the other
        # instruments only when searching; everyone else sees every instrument.
        watched = first_watchlist_symbols(user=self.request.user)
        if self.request.user.is_authenticated:
            first = watchlist_list(user=self.request.user).first()
            context["watchlist_id"] = "" if first is None else first.pk
        if watched:
            by_symbol = {i["symbol"]: i for i in context["instruments"]}
            first = [by_symbol[s] for s in watched if s in by_symbol]
            others = [
                {**i, "extra": True} for i in context["instruments"] if i["symbol"] not in watched
            ]
            context["instruments"] = first + others
            context["watchlist"] = True
        return {
            **context,
            "intervals": settings.MARKET_INTERVALS,
            "default_symbol": (watched or [settings.STREAM_DEFAULT_STOCK])[0],
        }


class TickerView(MarketPage):
    """`/ticker/`: the scrolling tape of every symbol (tutorial 001's page, on `ws/ticker/`)."""

    template_name = "web/ticker.html"


class StocksView(MarketPage):
    """`/stocks/`: one stock's symbol, price and change (tutorial 002's page, `ws/stocks/`)."""

    template_name = "web/stocks.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "default": settings.STREAM_DEFAULT_STOCK}


class TradingView(MarketPage):
    """`/trading/`: the latest crypto price (tutorial 003's page, `ws/cryptocurrency/`) and
    the paper venue: order ticket, live chart with the user's orders, open orders, fills
    and balances (sign in to trade)."""

    template_name = "web/trading.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        venue = {
            "maker_bps": str(settings.TRADING_MAKER_BPS),
            "taker_bps": str(settings.TRADING_TAKER_BPS),
            "slippage_bps": str(settings.TRADING_SLIPPAGE_BPS),
            "collar_bps": str(settings.TRADING_COLLAR_BPS),
            "collar_pct": format((settings.TRADING_COLLAR_BPS / 100).normalize(), "f"),
        }
        context = {
            **super().get_context_data(**kwargs),
            "default": settings.STREAM_DEFAULT_CRYPTO,
            "venue": venue,
        }
        user = self.request.user
        if user.is_authenticated:
            # Opened on the first visit: a new account starts with its paper cash.
            account = account_get_or_create(user=user)
            context["account"] = account
            context["portfolios"] = list(Portfolio.objects.filter(owner=user).order_by("name"))
        return context


class PortfolioListView(LoginRequiredMixin, TemplateView):
    """`/portfolio/`: the user's portfolios and a form for a new one."""

    template_name = "web/portfolio_list.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        rows = []
        for p in portfolios.portfolio_list(user=self.request.user):
            totals = portfolios.portfolio_valuation(p).totals()
            pnl = [totals["unrealized_pnl"], totals["realized_pnl"]]
            rows.append({"portfolio": p, "totals": totals, "pnl": pnl})
        from tickstream.market.selectors import reference_rates

        return {
            **super().get_context_data(**kwargs),
            "rows": rows,
            "methods": Portfolio.CostMethod.choices,
            "currencies": reference_rates().currencies(),
        }

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            created = portfolio_create(
                owner=request.user,
                name=request.POST.get("name", ""),
                method=request.POST.get("method", Method.FIFO.value),
                currency=request.POST.get("currency", "USD"),
            )
        except PortfolioError as exc:
            context = self.get_context_data()
            context.update(error=exc.message, name=request.POST.get("name", ""))
            return render(request, self.template_name, context, status=400)
        return redirect("portfolio-detail", portfolio_id=created.pk)


class PortfolioDetailView(LoginRequiredMixin, MarketPage):
    """`/portfolio/<id>/`: live holdings and totals, charts, returns, transactions,
    import and export (another user's portfolio is a 404)."""

    template_name = "web/portfolio_detail.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        try:
            portfolio = portfolios.portfolio_get(
                user=self.request.user, portfolio_id=kwargs["portfolio_id"]
            )
        except Portfolio.DoesNotExist:
            raise Http404("no such portfolio of yours") from None
        return {
            **super().get_context_data(**kwargs),
            "portfolio": portfolio,
            "methods": Portfolio.CostMethod.choices,
            "periods": portfolios.PERIODS,
            "this_year": datetime.now(UTC).year,
        }


class StrategiesView(LoginRequiredMixin, MarketPage):
    """`/strategies/`: the user's hosted strategies (add, start, stop) and stored runs."""

    template_name = "web/strategies.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from tickstream.strategy import selectors as strategies
        from tickstream.strategy.sources import offered

        runs = list(strategies.runs_for(self.request.user)[:100])
        for run in runs:
            value = (run.figures or {}).get("total_return")
            run.return_text = "—" if value is None else f"{value * 100:.2f} %"  # type: ignore[attr-defined]
        return {
            **super().get_context_data(**kwargs),
            "sources": list(offered().values()),
            "runs": runs,
        }


class StrategyRunView(LoginRequiredMixin, TemplateView):
    """`/strategies/runs/<id>/`: a run's report: figures, equity and drawdown, the price
    with the fills marked, the trades (another user's run is a 404)."""

    template_name = "web/strategy_run.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from tickstream.strategy import selectors as strategies
        from tickstream.strategy.core.report import (
            duration_text,
            money_text,
            percent_text,
            ratio_text,
        )

        run = strategies.run_for(self.request.user, kwargs["run_id"])
        if run is None:
            raise Http404("no such run of yours")
        f = run.figures or {}

        def pct(key: str) -> str:
            return percent_text(f.get(key))

        def num(key: str) -> str:
            return ratio_text(f.get(key))

        def money(key: str) -> str:
            return money_text(f.get(key))

        seconds = f.get("drawdown_s")
        figures = [
            ("Start", money("start"), "equity when it began"),
            ("End", money("end"), "cash plus holdings at the last price"),
            ("Total return", pct("total_return"), "end / start − 1"),
            ("Annualised return", pct("annualised_return"), "compounded to a year"),
            ("Volatility", pct("volatility"), f"annualised, of {f.get('period', '')} returns"),
            ("Sharpe", num("sharpe"), "mean / standard deviation of returns, annualised"),
            ("Sortino", num("sortino"), "as Sharpe, over the downside deviation"),
            ("Max drawdown", pct("max_drawdown"), "largest fall from a peak"),
            ("Drawdown duration", duration_text(seconds), "peak to recovery"),
            ("Exposure", pct("exposure"), "share of the time in a position"),
            ("Turnover", num("turnover"), "value traded / mean equity"),
            ("Fees", money("fees"), run.currency),
            ("Fills", str(f.get("fills", len(run.fills))), ""),
            ("Round trips", str(f.get("trades", "—")), "flat to flat"),
            ("Win rate", pct("win_rate"), "winning round trips"),
            ("Average win", money("average_win"), run.currency),
            ("Average loss", money("average_loss"), run.currency),
        ]
        return {
            **super().get_context_data(**kwargs),
            "run": run,
            "figures": figures,
            "chart": {"equity": run.equity, "prices": run.prices, "fills": run.fills},
        }


class AlertsView(LoginRequiredMixin, MarketPage):
    """`/alerts/`: the user's price alerts with their history, and a form for new ones."""

    template_name = "web/alerts.html"


def login_locked(request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any) -> Any:
    """What a login gets after too many failures for its account or its address (429)."""
    minutes = settings.AXES_COOLOFF_TIME.total_seconds() / 60
    message = (
        f"Too many failed logins for this account or from this address. "
        f"Try again in {minutes:g} minutes."
    )
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "throttled", "message": message}}, status=429)
    return render(request, "registration/locked_out.html", {"message": message}, status=429)

from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    name = "tickstream.portfolio"
    label = "portfolio"
    verbose_name = "Portfolios"

    def ready(self) -> None:
        """Register the live `portfolio:<id>` channel (owner only, valued by the Hub)."""
        from tickstream.portfolio.channels import register_portfolio_channel

        register_portfolio_channel()

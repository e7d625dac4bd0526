from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("tickstream.accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        # In the app's shell and theme (the stock page is a bare Swagger page).
        SpectacularSwaggerView.as_view(url_name="api-schema", template_name="web/api_docs.html"),
        name="api-docs",
    ),
    path("api/", include("tickstream.market.urls")),
    path("api/", include("tickstream.accounts.api_urls")),
    path("api/", include("tickstream.portfolio.urls")),
    path("api/", include("tickstream.alerts.urls")),
    path("api/", include("tickstream.trading.urls")),
    path("api/", include("tickstream.strategy.urls")),
    path("", include("tickstream.web.urls")),
]

handler400 = "tickstream.common.api.bad_request"
handler404 = "tickstream.common.api.page_not_found"
handler500 = "tickstream.common.api.server_error"

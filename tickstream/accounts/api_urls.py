from django.urls import path

from tickstream.accounts import api

urlpatterns = [
    path("auth/token/", api.TokenObtainView.as_view(), name="api-token"),
]

from django.urls import path

from tickstream.web import views

urlpatterns = [
    path("", views.index, name="index"),
]

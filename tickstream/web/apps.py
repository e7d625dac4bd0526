from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "tickstream.web"
    label = "web"
    verbose_name = "Web pages"

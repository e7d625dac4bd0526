from django.apps import AppConfig


class StreamConfig(AppConfig):
    name = "tickstream.stream"
    label = "stream"
    verbose_name = "Live streaming"

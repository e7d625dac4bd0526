"""ASGI entry point: HTTP (Django), websockets (Channels) and the process lifespan."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tickstream.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402

from tickstream.lifespan import lifespan_app  # noqa: E402
from tickstream.stream.auth import WebsocketEdge  # noqa: E402
from tickstream.stream.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Origin, user and route in one step (stream/auth.py: memory per connection).
        "websocket": WebsocketEdge(websocket_urlpatterns),
        "lifespan": lifespan_app,
    }
)

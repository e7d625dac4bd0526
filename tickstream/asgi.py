"""ASGI entry point: HTTP (Django), websockets (Channels) and the process lifespan."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tickstream.settings")

from tickstream.handler import get_pooled_asgi_application  # noqa: E402

django_asgi_app = get_pooled_asgi_application()

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

"""The pure streaming core: the websocket protocol and the fan-out logic. Nothing here
imports Django or asyncio (an import contract checks)."""

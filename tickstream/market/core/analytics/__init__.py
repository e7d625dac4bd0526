"""Pure market analytics: quotes, candles and incremental indicators.

Nothing here imports Django or asyncio; every update is O(1) per tick.
"""

"""The pure core of paper trading: no Django, no asyncio."""

"""The pure core of alerts: no Django, no asyncio."""

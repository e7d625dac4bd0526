"""The pure portfolio core: cost basis by four methods and returns. Nothing here imports
Django or asyncio (an import contract checks)."""

"""The pure market core: ticks, validation, the engine, wire shapes, file formats and the
simulated market model. Nothing here imports Django or asyncio (an import contract checks)."""

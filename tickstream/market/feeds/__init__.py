"""Feed adapters: one module per source, each emitting the same frozen `Tick`."""

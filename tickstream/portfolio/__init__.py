"""The live portfolio tracker (issue 10). So far: its pure core (cost basis, returns)."""

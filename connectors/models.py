"""Models of the connectors app (filled by its own issue)."""

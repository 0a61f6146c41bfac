"""Models of the identity app (filled by its own issue)."""

"""Models of the segments app (filled by its own issue)."""

"""Identity resolution: normalization, matching, clustering, golden records."""

"""The segment pages of the admin UI: what the builder offers and checks (builder.py),
and what the segment page shows (page.py). Views in segments/admin.py only call these."""

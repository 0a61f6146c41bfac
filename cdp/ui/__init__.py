"""The admin UI shared by marketers, data stewards and the DPO: navigation and home page
per role. Each app keeps its own pages (segment builder, sync pages, identity pages, DPO
pages); this package holds only what spans them."""

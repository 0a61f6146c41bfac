"""REST API (DRF): thin views over the services, API-key authentication."""

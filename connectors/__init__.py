"""Connectors: the sync engine and one package per destination."""

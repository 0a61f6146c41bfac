"""Privacy primitives: field encryption, blind indexes, key rotation."""

"""Thin endpoint handlers, one module per surface (scoring contract §9)."""

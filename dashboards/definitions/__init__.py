"""One module per dashboard; each has ``build() -> Dashboard``."""

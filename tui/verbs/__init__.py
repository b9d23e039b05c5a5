"""One module per group of CLI verbs; each has ``register(subparsers)``."""

"""One module per ``hipporag`` subcommand, each with ``register(subparsers)``."""

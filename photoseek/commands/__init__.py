"""The subcommands of ``photoseek``: one module each, with ``register(subparsers)`` and ``run(args)``."""

"""Subcommands of `granary`, one module per area; repository/cli.py assembles them."""

"""One module per `kerasx` subcommand; see `kerasx.cli`."""

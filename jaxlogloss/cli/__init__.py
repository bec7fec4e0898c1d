"""The jaxlogloss command, one module per subcommand."""

from jaxlogloss.cli.main import main as main

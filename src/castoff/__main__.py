"""``python -m castoff`` runs the CLI."""

from castoff.cli.app import main

main()

"""``python -m castoff`` runs the CLI."""

import sys

from castoff.cli.version import fast_path

# `version next` skips typer's start-up cost (castoff.cli.version.fast_path).
if (_code := fast_path(sys.argv[1:])) is not None:
    sys.exit(_code)

from castoff.cli.app import main

main()

"""castoff's command line: Typer commands, one module per command group."""

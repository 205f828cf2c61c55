"""The command-line door (Typer)."""

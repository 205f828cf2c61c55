"""The `iocd` command as installed: the CLI's commands plus `iocd agent`.

The CLI and the agent are doors that never import each other; this module, above both, puts the
agent's commands under the CLI's app (imported only when `iocd agent ...` is used).
`python -m iocd.cli.main` still runs the CLI alone, and `iocd-agent` (iocd.agent.main) runs the
agent alone.
"""

from __future__ import annotations

import typer

from iocd.cli.lazy import Lazy
from iocd.cli.main import Commands
from iocd.cli.main import app as cli_app


def build_app() -> typer.Typer:
    """The CLI app with the agent's group added (once, however often this is called)."""
    Commands.lazy.setdefault("agent", Lazy("iocd.agent.main", "app"))
    return cli_app


def main() -> None:
    build_app()()


if __name__ == "__main__":
    main()

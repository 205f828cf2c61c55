"""The `iocd` command as installed: the CLI's commands plus `iocd agent`.

The CLI and the agent are doors that never import each other; this module, above both, puts the
agent's commands under the CLI's app (imported only when `iocd agent ...` is used).
`python -m iocd.cli.main` still runs the CLI alone, and `iocd-agent` (iocd.agent.main) runs the
agent alone.

`main` makes the garbage collector's passes rare before it imports the CLI, and each command
puts them back once it has started (iocd.cli.collector says why): so the CLI is imported here
when `main` or `build_app` runs, not when this module is.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from iocd.cli.collector import quiet_start, started

if TYPE_CHECKING:
    import typer


def build_app() -> typer.Typer:
    """The CLI app with the agent's group added (once, however often this is called)."""
    from iocd.cli.lazy import Lazy
    from iocd.cli.main import Commands
    from iocd.cli.main import app as cli_app

    Commands.lazy.setdefault("agent", Lazy("iocd.agent.main", "app"))
    return cli_app


def main() -> None:
    quiet_start()
    app = build_app()
    if "agent" in sys.argv[1:]:  # another word "agent" only costs this start-up some time
        started()  # the agent's commands build no CLI instance, and may run for long
    app()


if __name__ == "__main__":
    main()

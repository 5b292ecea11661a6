"""The ``fte`` command's entry point (the console script, and ``python -m fte``).

``fte --version`` is answered here, before the command line is built: it needs nothing but the
version, and building the command tree (click and every command's options) is most of a start-up
(docs/BENCHMARKS.md §16). Everything else goes to :func:`fte.cli.main`.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from fte import __version__

        print(f"fte, version {__version__}")  # click's version_option prints the same line
        return
    from fte.cli import main as cli

    cli()


if __name__ == "__main__":
    main()

"""``fte mcp``: the accounting use cases (:mod:`fte.usecases.accounting`) as MCP tools on stdio.

Read tools answer from Odoo; write tools only create approval tasks (nothing is written to Odoo
until a person approves). fte's errors reach the client as tool errors, with their reason.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

from fte.errors import FteError
from fte.usecases.accounting import READ_TOOLS, WRITE_TOOLS, Accounting

__all__ = ["READ_TOOLS", "WRITE_TOOLS", "serve"]


def _as_tool_error(fn: Callable[..., Any], tool_error: type[Exception]) -> Callable[..., Any]:
    """fte's errors reach the MCP client with their reason (the SDK's tool error); anything else is a
    crash, which the SDK reports without details."""

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FteError as exc:
            raise tool_error(str(exc)) from exc

    return call


def serve(home: Path, verbose: bool = False) -> None:
    """``fte mcp``: the tools over MCP on stdio (the ``mcp`` package: ``pip install 'fte[mcp]'``).

    MCP clients show whatever a server writes to stderr as noise, so only warnings and errors are
    logged (not the migrations' or the HTTP client's info lines); ``verbose`` logs everything."""
    try:
        from mcp.server.mcpserver import MCPServer  # mcp 2.x
        from mcp.server.mcpserver.exceptions import ToolError
    except ImportError:
        from mcp.server.fastmcp import FastMCP as MCPServer  # type: ignore[no-redef,attr-defined]  # mcp 1.x
        from mcp.server.fastmcp.exceptions import ToolError  # type: ignore[no-redef,import-not-found]

    tools = Accounting(home)
    server = MCPServer("fte-odoo", instructions="Odoo accounting. Read tools answer from Odoo; write tools only "
                                                "create tasks that a person must approve in Obsidian.",
                       log_level="DEBUG" if verbose else "WARNING")
    for name in READ_TOOLS + WRITE_TOOLS:
        server.tool(name=name)(_as_tool_error(getattr(tools, name), ToolError))
    server.run("stdio")

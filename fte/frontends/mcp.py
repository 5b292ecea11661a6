"""``fte mcp``: the accounting use cases (:mod:`fte.usecases.accounting`) as MCP tools on stdio.

Read tools answer from Odoo; write tools only create approval tasks (nothing is written to Odoo
until a person approves). fte's errors reach the client as tool errors, with their reason.

**Strict arguments.** The SDK builds each tool's argument model from the function's signature in
pydantic's lax mode, which drops unknown fields and coerces types (``"100"`` → 100.0, ``true`` →
1.0). :func:`strict_tool` makes the same model strict (``strict=True``: JSON types as declared;
``extra="forbid"``: an unknown field is refused with its name), and the schema the client reads
says so (``additionalProperties: false``); the lines inside a call
(:class:`~fte.usecases.accounting.InvoiceLine`, :class:`~fte.usecases.accounting.EntryLine`) are
read under the same configuration. The SDK still decodes an array or an object sent as a
JSON string (some clients always send them so): that is the transport's encoding, not a type.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fte.errors import FteError
from fte.usecases.accounting import READ_TOOLS, WRITE_TOOLS, Accounting

if TYPE_CHECKING:
    from mcp.server.mcpserver.tools import Tool

__all__ = ["READ_TOOLS", "WRITE_TOOLS", "serve", "strict_tool", "tools"]

#: pydantic's configuration of a tool's arguments: JSON types as declared, an unknown field refused.
STRICT = {"strict": True, "extra": "forbid"}


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


def strict_tool(fn: Callable[..., Any], name: str) -> Tool:
    """The SDK's tool for ``fn``, with its argument model made strict (see the module's docstring)."""
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.server.mcpserver.tools import Tool

    tool = Tool.from_function(_as_tool_error(fn, ToolError), name=name)
    lax = tool.fn_metadata.arg_model
    strict: Any = type(lax.__name__, (lax,), {"model_config": {**lax.model_config, **STRICT},
                                              "__module__": lax.__module__})
    metadata = tool.fn_metadata.model_copy(update={"arg_model": strict})
    return tool.model_copy(update={"fn_metadata": metadata,
                                   "parameters": strict.model_json_schema(by_alias=True)})


def tools(home: Path) -> list[Tool]:
    """Every accounting tool of the home, strict, as the server offers them."""
    accounting = Accounting(home)
    return [strict_tool(getattr(accounting, name), name) for name in READ_TOOLS + WRITE_TOOLS]


def serve(home: Path, verbose: bool = False) -> None:
    """``fte mcp``: the tools over MCP on stdio (the ``mcp`` package: ``pip install 'fte[mcp]'``).

    MCP clients show whatever a server writes to stderr as noise, so only warnings and errors are
    logged (not the migrations' or the HTTP client's info lines); ``verbose`` logs everything."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("fte-odoo", instructions="Odoo accounting. Read tools answer from Odoo; write tools only "
                                                "create tasks that a person must approve in Obsidian.",
                       log_level="DEBUG" if verbose else "WARNING", tools=tools(home))
    server.run("stdio")

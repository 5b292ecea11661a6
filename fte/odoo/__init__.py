"""Odoo accounting: the JSON-RPC and JSON-2 client, the operations, the checks of their parameters.

Below the channels that use it: the executor is ``fte.io.channels.odoo``, the tools ``fte mcp``
serves are ``fte.usecases.accounting`` (docs/odoo.md)."""

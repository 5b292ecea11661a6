"""Odoo accounting (JSON-RPC and JSON-2 client, operations, MCP server) — see issue 7; not built yet."""

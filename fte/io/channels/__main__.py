"""``python -m fte.io.channels``: the channel registry as the Markdown table docs/channels.md shows."""

from fte.io.channels.registry import markdown

print(markdown(), end="")

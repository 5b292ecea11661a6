"""Edges: the vault's files, git sync, sources, drafters and executors. Plain values in and out."""

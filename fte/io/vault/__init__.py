"""The vault: one markdown note per task, and the git sync that carries the notes between hosts.

``notes`` (the notes themselves: reading, writing atomically, the person's zone), ``names`` (safe
file names), ``properties`` (a task's fields as Obsidian properties), ``gitlock`` (one lock per host
for all git work), ``gitsync`` (commit, fetch, integrate, push — never force), ``treemerge`` (the
three-way merge of two vault trees by task id, with the conflict policy), ``worktree`` (writing a
merged tree into the person's working tree, path by path) and ``secretguard`` (credentials kept out
of commits). docs/sync.md and docs/protocol.md describe the protocol they implement.
"""

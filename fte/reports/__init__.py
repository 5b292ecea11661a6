"""What fte tells the person and their scripts: the Dashboard, the weekly briefing, the audit log's
daily files, notices, JSON views of tasks, and the named queries of ``fte sql``."""

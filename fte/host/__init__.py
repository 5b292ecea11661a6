"""One host: its home folder (settings, database, vault, git), its signing keys, its process loop,
its health check (``fte doctor``) and the offline demo of two hosts."""

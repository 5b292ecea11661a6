"""What ``fte.toml`` may hold: the checks of a value (``checks``), typed tables (``tables``), and
the whole table of settings with its validation and its docs (``spec``). Reading a home's file is
:mod:`fte.config`."""

"""Front ends beside the command line (``fte/cli.py``): each parses and answers, over the use cases
of :mod:`fte.usecases`."""

"""The programs behind the ``hft`` command."""

"""ClauseWatch: watch AI terms and model licences for anti-distillation and competing-use clauses."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("clausewatch")  # the installed distribution's, as pyproject.toml declares it
except PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"

"""ClauseWatch: watch AI terms and model licences for anti-distillation and competing-use clauses."""

__version__ = "0.1.0"

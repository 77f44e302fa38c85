"""tests/typing holds code for type checkers only: pytest collects nothing here."""

collect_ignore_glob = ["*.py"]

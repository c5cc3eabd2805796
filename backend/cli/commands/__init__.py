"""The `heracles` command groups, one module each; `backend/cli/main.py` puts them together."""

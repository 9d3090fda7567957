"""The `rung` command's groups, one module each; rung.cli puts them in one parser."""

"""Command handlers, one module per family of commands; registry.py says how to add one."""

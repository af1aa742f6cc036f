"""The turns: a message, or a command that streams, answered end to end; no command here."""

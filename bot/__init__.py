"""Parlor: OpenAI-compatible language models in Discord, Telegram and a console."""

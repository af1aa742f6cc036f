"""What operators run beside the bot: metrics, health and readiness over HTTP."""

"""Discord ending the bot's connection for good while it runs, as one line for the operator.

discord.py reconnects by itself after network trouble; what it does not retry (a token
reset in the developer portal closes the gateway with 4004, an intent switched off with
4014, bad sharding with 4010/4011) ends its client task with an exception and leaves a
process that is up but deaf. Translated here into `PlatformRefused`, so the process ends
with a line that says what to do, and a restart policy, or the operator, sees it.
"""

from __future__ import annotations

import discord

from bot.core.errors import PlatformRefused

_CLOSE_CODES = {
    4004: "it refused DISCORD_TOKEN (the token was reset, or the bot deleted); copy the "
    "bot's current token from the developer portal into DISCORD_TOKEN",
    4010: "it refused the shard id; check DISCORD_SHARD_IDS against DISCORD_SHARD_COUNT",
    4011: "the bot is in too many servers for one connection; set DISCORD_SHARD_COUNT",
    4012: "it refused the gateway version; upgrade Parlor",
    4013: "it refused the gateway intents; upgrade Parlor",
    4014: "a privileged intent was switched off in the developer portal; restart the bot "
    "(it starts without Message Content), or switch the intent on again",
}


def ended_for_good(error: BaseException | None) -> PlatformRefused:
    """What the operator is told when the client's task ended while we were not closing."""
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return PlatformRefused(f"Discord closed the connection: {_CLOSE_CODES[4014]}")
    if isinstance(error, discord.LoginFailure):
        return PlatformRefused(f"Discord closed the connection: {_CLOSE_CODES[4004]}")
    if isinstance(error, discord.ConnectionClosed):
        reason = _CLOSE_CODES.get(error.code, "it will not take it back")
        return PlatformRefused(f"Discord closed the connection (code {error.code}): {reason}")
    what = type(error).__name__ if error is not None else "no error"
    return PlatformRefused(
        f"The Discord connection ended and did not reconnect ({what}); the process stops so "
        "that its restart policy can start it afresh"
    )

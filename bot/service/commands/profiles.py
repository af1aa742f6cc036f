"""The /profile command: named connections a server or chat keeps, one used per channel.

Keys are shown masked only; a profile's URL passes the same repair as /connect.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bot.core.domain import CommandCall, CommandResult, Secret
from bot.core.errors import UsageError
from bot.core.ports import Profiles
from bot.endpoints.urls import repair_base_url
from bot.service.commands.registry import answers

_NAME = re.compile(r"^[\w.\-]{1,40}$")


class ProfileCommands:
    """/profile: named connections saved once per server or chat, used by any channel."""

    def __init__(self, *, profiles: Profiles) -> None:
        self._profiles = profiles

    @answers("profile")
    async def _profile(self, call: CommandCall) -> CommandResult:
        action = call.options["action"].strip().lower()
        if action == "list":
            return await self._list(call)
        name = call.options.get("name", "").strip()
        if not _NAME.match(name):
            raise UsageError(
                f"/profile {action} needs name:<name> (letters, digits, . _ -, up to 40)."
            )
        if action == "save":
            return await self._save(call, name)
        if action == "use":
            if not await self._profiles.use_profile(call.channel, call.profile_scope, name):
                raise UsageError(f"There is no profile {name!r}; /profile action:list names them.")
            return CommandResult(f"This channel now uses the profile {name}.")
        used_by = await self._profiles.delete_profile(call.profile_scope, name)
        if used_by is None:
            raise UsageError(f"There is no profile {name!r}; /profile action:list names them.")
        back = (
            f" {used_by} channel(s) using it went back to the operator's endpoint."
            if used_by
            else ""
        )
        return CommandResult(f"Deleted the profile {name} and its key.{back}")

    async def _save(self, call: CommandCall, name: str) -> CommandResult:
        raw_url = call.options.get("base_url", "").strip()
        repaired = repair_base_url(raw_url) if raw_url else None
        raw_key = call.options.get("api_key", "").strip()
        await self._profiles.save_profile(
            call.profile_scope,
            name,
            channel=call.channel,
            base_url=repaired.url if repaired else None,
            api_key=Secret(raw_key) if raw_key else None,
            model=call.options.get("model", "").strip() or None,
        )
        source = repaired.url if repaired else "this channel's connection"
        return CommandResult(
            f"Saved the profile {name} ({source}). Use it anywhere here with "
            f"/profile action:use name:{name}."
        )

    async def _list(self, call: CommandCall) -> CommandResult:
        profiles = await self._profiles.list_profiles(call.profile_scope)
        if not profiles:
            return CommandResult("No profiles yet: /profile action:save name:<name>.")
        lines = []
        for profile in profiles:
            host = urlsplit(profile.base_url).netloc
            key = f"key {profile.key_hint}" if profile.key_hint else "no key"
            model = f", {profile.model}" if profile.model else ""
            users = f", used by {profile.channels_using}" if profile.channels_using else ""
            lines.append(f"• {profile.name}: {host}{model}, {key}{users}")
        return CommandResult("Profiles:\n" + "\n".join(lines))

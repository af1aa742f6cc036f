"""Who may do what on Discord, from the permissions Discord resolved for this channel.

Slash commands carry default permissions, but a server's admins can re-enable any command
for anyone under Server Settings → Integrations, so those are only a hint: every call is
checked again here and in the service against what the member may do in the channel
(`interaction.permissions` includes the channel's overwrites).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord

from bot.core.domain import Actor, ChannelKey, Permission
from bot.core.server_access import ServerRules
from bot.platforms.common.access import Refusal, narrowed
from bot.platforms.discord.places import Channel, channel_key, server_of

RulesOf = Callable[[ChannelKey, str | None], Awaitable[ServerRules]]
"""The server's own /access rules for a channel (the service's `server_rules`)."""


def permission_of(
    interaction: discord.Interaction, operators: frozenset[int] = frozenset()
) -> Permission:
    """Operators may do anything; in a DM the person is the only member; in a server,
    Manage Server (or Administrator) makes a server admin and Manage Channels a channel
    admin."""
    if interaction.user.id in operators:
        return Permission.OPERATOR
    if interaction.guild_id is None:
        return Permission.SERVER_ADMIN
    return permission_from(interaction.permissions)


def actor_of(interaction: discord.Interaction, operators: frozenset[int] = frozenset()) -> Actor:
    """Who is running a command or pressing a button, with their rights in this channel."""
    user = interaction.user
    permission = permission_of(interaction, operators)
    return Actor(str(user.id), user.display_name, permission, roles=roles_of(user))


def roles_of(user: discord.User | discord.Member) -> frozenset[str] | None:
    """A member's role ids (@everyone's, the server's own id, among them); None in a DM."""
    if isinstance(user, discord.Member):
        return frozenset(str(role.id) for role in user.roles)
    return None


def member_permission(
    channel: Channel, user: discord.User | discord.Member, operators: frozenset[int]
) -> Permission:
    """What the author of a message may do in its channel (a message carries no resolved
    permissions, as an interaction does): from the cached roles and overwrites."""
    if user.id in operators:
        return Permission.OPERATOR
    if not isinstance(user, discord.Member) or isinstance(channel, discord.PartialMessageable):
        return Permission.EVERYONE
    return permission_from(channel.permissions_for(user))


async def server_refusal(
    rules_of: RulesOf,
    channel: Channel,
    user: discord.User | discord.Member,
    permission: Permission,
) -> Refusal | None:
    """Whether the server's own rules keep `user` away here. Its admins (and the bot's
    operators) always pass, so no rule can lock the people who set rules out."""
    server = server_of(channel)
    if server is None or permission >= Permission.SERVER_ADMIN:
        return None
    key = channel_key(channel)
    rules = await rules_of(key, server)
    if rules.empty:
        return None
    return narrowed(rules, key, roles_of(user) or frozenset())


def permission_from(permissions: discord.Permissions) -> Permission:
    if permissions.administrator or permissions.manage_guild:
        return Permission.SERVER_ADMIN
    if permissions.manage_channels:
        return Permission.CHANNEL_ADMIN
    return Permission.EVERYONE


def default_permissions(needed: Permission) -> discord.Permissions | None:
    """What a command asks of members by default, as a hint to server admins' menus."""
    if needed >= Permission.SERVER_ADMIN:
        return discord.Permissions(manage_guild=True)
    if needed >= Permission.CHANNEL_ADMIN:
        return discord.Permissions(manage_channels=True)
    return None

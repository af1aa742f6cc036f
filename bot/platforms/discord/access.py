"""Who may do what on Discord, from the permissions Discord resolved for this channel.

Slash commands carry default permissions, but a server's admins can re-enable any command
for anyone under Server Settings → Integrations, so those are only a hint: every call is
checked again here and in the service against what the member may do in the channel
(`interaction.permissions` includes the channel's overwrites).
"""

from __future__ import annotations

import discord

from bot.core.domain import Actor, Permission


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
    return Actor(str(user.id), user.display_name, permission_of(interaction, operators))


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

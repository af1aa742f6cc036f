"""/character, /greeting and /persona: who talks in a channel, and who the user is.

Cards are read and written by bot.characters; this module decides what a command does
and says, and nothing stored changes when a card is refused.
"""

from __future__ import annotations

from urllib.parse import quote

from bot.characters.card import CharacterCard
from bot.characters.errors import MAX_CARD_FILE_BYTES, CardError
from bot.characters.export import card_to_json, card_to_png
from bot.characters.reader import CardReader
from bot.characters.stored import StoredCharacter
from bot.core.commands import parse_integer
from bot.core.domain import (
    Attachment,
    ChannelChanges,
    CommandCall,
    CommandResult,
    Permission,
    Persona,
)
from bot.core.errors import PermissionDenied, UsageError
from bot.core.ports import Characters, Fetcher, Personas, Store
from bot.core.untrusted import safe_to_show
from bot.prompt.macros import substitute
from bot.service.commands.registry import answers
from bot.service.turns.prompting import PromptFactory

MAX_PERSONA_NAME_CHARS = 64
MAX_PERSONA_DESCRIPTION_CHARS = 2000
SHOW_PREVIEW_CHARS = 300
FORGET = "-"
_CHANGING = frozenset({"import", "use", "remove"})


class CharacterCommands:
    """/character, /greeting and /persona: the channel's character, its greetings, who you are."""

    def __init__(
        self,
        *,
        store: Store,
        characters: Characters,
        personas: Personas,
        fetcher: Fetcher,
        prompts: PromptFactory,
    ) -> None:
        self._store = store
        self._characters = characters
        self._personas = personas
        self._fetcher = fetcher
        self._prompts = prompts
        self._reader = CardReader()

    @answers("character")
    async def _character(self, call: CommandCall) -> CommandResult:
        action = call.options["action"].strip().lower()
        if action in _CHANGING and call.actor.permission < Permission.CHANNEL_ADMIN:
            raise PermissionDenied(f"/character {action} needs the right to manage this channel.")
        if action == "import":
            return await self._import(call)
        if action == "list":
            return await self._list(call)
        name = call.options.get("name", "").strip()
        stored = await (
            self._current(call) if action == "show" and not name else self._named(call, action)
        )
        if action == "use":
            return await self._use(call, stored)
        if action == "remove":
            return await self._remove(call, stored)
        form = call.options.get("format", "png").strip().lower()
        return _export(stored, form) if action == "export" else _show(stored)

    async def _remove(self, call: CommandCall, stored: StoredCharacter) -> CommandResult:
        _need_server_admin(call, f"Removing {stored.name}")
        used_by = await self._characters.remove_character(call.profile_scope, stored.name)
        back = f" {used_by} channel(s) had it and now have none." if used_by else ""
        return CommandResult(f"Removed {stored.name}.{back}")

    async def _import(self, call: CommandCall) -> CommandResult:
        url = call.options.get("url", "").strip()
        if call.attachments:
            file = call.attachments[0]
            data, filename = file.data, file.filename
        elif url:
            data = await self._fetcher.fetch(url, max_bytes=MAX_CARD_FILE_BYTES)
            filename = url.rsplit("/", 1)[-1] or url
        else:
            raise UsageError(
                "Send the card (PNG, JSON or CHARX) with /character import, or give url:<link>."
            )
        imported = await self._reader.read(data, filename=filename)
        existed = await self._characters.find_character(call.profile_scope, imported.card.name)
        if existed is not None:
            _need_server_admin(call, f"Replacing {existed.name}")
        stored = await self._characters.save_character(
            call.profile_scope, imported.card, imported.avatar
        )
        verb = "Replaced" if existed else "Imported"
        lines = [f"{verb} {stored.name}: {_summary(stored.card)}."]
        lines.extend(imported.warnings)
        lines.append(f"Bring it here with /character use name:{stored.name}.")
        return CommandResult("\n".join(lines))

    async def _list(self, call: CommandCall) -> CommandResult:
        stored = await self._characters.list_characters(call.profile_scope)
        if not stored:
            return CommandResult("No characters yet: /character import with a card file.")
        state = await self._store.load_channel(call.channel)
        lines = [f"• {c.name}{' (here)' if c.id == state.character_id else ''}" for c in stored]
        return CommandResult("Characters:\n" + "\n".join(lines))

    async def _use(self, call: CommandCall, stored: StoredCharacter) -> CommandResult:
        await self._store.update_channel(call.channel, ChannelChanges(character_id=stored.id))
        return await self._open_chat(call, stored.card, 0)

    @answers("greeting")
    async def _greeting(self, call: CommandCall) -> CommandResult:
        card = await self._prompts.character(await self._store.load_channel(call.channel))
        if card is None:
            raise UsageError("This channel has no character: /character use name:<name>.")
        count = len(card.greetings)
        if not count:
            raise UsageError(f"{card.name} has no greeting.")
        raw = call.options.get("index", "").strip()
        index = parse_integer("index", raw, low=0, high=count - 1) if raw else 0
        return await self._open_chat(call, card, index)

    async def _open_chat(self, call: CommandCall, card: CharacterCard, index: int) -> CommandResult:
        """A new chat, opened by greeting number `index` (the others become its swipes)."""
        user = await self._user_name(call)
        macros = self._prompts.greeting_macros(card, user)
        greetings = [substitute(text.strip(), macros).strip() for text in card.greetings]
        await self._store.reset_chat(call.channel, greetings=greetings, chosen=index)
        if not greetings:
            return CommandResult(
                f"{card.name} is here; the earlier chat is archived.", ephemeral=False
            )
        more = f" ({index + 1}/{len(greetings)}, /swipe for another)" if len(greetings) > 1 else ""
        return CommandResult(
            greetings[index] + (f"\n*{more.strip()}*" if more else ""),
            ephemeral=False,
            speaker=card.name,
        )

    @answers("persona")
    async def _persona(self, call: CommandCall) -> CommandResult:
        name = call.options.get("name")
        description = call.options.get("description", "").strip()
        platform = call.channel.platform
        if name is None and not description:
            persona = await self._prompts.persona(platform, call.actor.user_id)
            if persona is None:
                return CommandResult(
                    f"You are {call.actor.display_name} here. Choose a story name with "
                    "/persona name:<name> description:<a few lines about you>."
                )
            about = f": {persona.description}" if persona.description else ""
            return CommandResult(f"You are {persona.name}{about}")
        name = safe_to_show(name or "").strip()  # shown to others as a name: no controls
        if name == FORGET:
            await self._personas.set_persona(platform, call.actor.user_id, None)
            return CommandResult(f"Forgot your persona; you are {call.actor.display_name} again.")
        if not name:
            raise UsageError("/persona needs name:<name> (or name:- to forget it).")
        if len(name) > MAX_PERSONA_NAME_CHARS:
            raise UsageError(
                f"A persona's name can be {MAX_PERSONA_NAME_CHARS} characters at most."
            )
        if len(description) > MAX_PERSONA_DESCRIPTION_CHARS:
            raise UsageError(
                f"A persona's description can be {MAX_PERSONA_DESCRIPTION_CHARS} characters "
                "at most."
            )
        await self._personas.set_persona(platform, call.actor.user_id, Persona(name, description))
        return CommandResult(f"In stories here you are now {name}.")

    async def _current(self, call: CommandCall) -> StoredCharacter:
        state = await self._store.load_channel(call.channel)
        found = (
            None
            if state.character_id is None
            else await self._characters.character(state.character_id)
        )
        if found is None:
            raise UsageError("This channel has no character: /character use name:<name>.")
        return found

    async def _named(self, call: CommandCall, action: str) -> StoredCharacter:
        name = call.options.get("name", "").strip()
        if not name:
            raise UsageError(f"/character {action} needs name:<name>.")
        stored = await self._characters.find_character(call.profile_scope, name)
        if stored is None:
            raise UsageError(f"There is no character {name!r}; /character list names them.")
        return stored

    async def _user_name(self, call: CommandCall) -> str:
        persona = await self._prompts.persona(call.channel.platform, call.actor.user_id)
        return persona.name if persona else call.actor.display_name


def _need_server_admin(call: CommandCall, doing: str) -> None:
    """The library is shared by every channel of the server: changing what other channels
    already use takes the server's admins, adding to it only the channel's."""
    if call.actor.permission < Permission.SERVER_ADMIN:
        raise PermissionDenied(
            f"{doing} changes it for every channel of this server, so it needs the right to "
            "manage the server."
        )


def _summary(card: CharacterCard) -> str:
    greetings = len(card.greetings)
    parts = [f"{greetings} greeting{'s' if greetings != 1 else ''}"]
    if card.mes_example.strip():
        parts.append("example dialogue")
    data = card.data.get("data")
    if isinstance(data, dict) and isinstance(data.get("character_book"), dict):
        parts.append("a lorebook (kept with the card; not used in prompts yet)")
    return ", ".join(parts)


def _show(stored: StoredCharacter) -> CommandResult:
    card = stored.card
    lines = [f"**{card.name}**" + (f" ({card.nickname})" if card.nickname else "")]
    for label, text in (
        ("Description", card.description),
        ("Personality", card.personality),
        ("Scenario", card.scenario),
        ("Creator's notes", card.creator_notes),
    ):
        if text.strip():
            lines.append(f"{label}: {_preview(text)}")
    lines.append(
        f"Greetings: {len(card.greetings)}; export with /character export name:{card.name}"
    )
    return CommandResult("\n".join(lines))


def _export(stored: StoredCharacter, form: str) -> CommandResult:
    safe = quote(stored.name, safe=" -_.")
    if form == "png":
        try:
            data = card_to_png(stored.card, stored.avatar)
        except CardError:  # the avatar is no PNG (a CHARX icon may be WebP): a plain picture
            data = card_to_png(stored.card, None)
        file = Attachment(f"{safe}.png", "image/png", data)
    else:
        version = 3 if form == "json_v3" else 2
        file = Attachment(
            f"{safe}.json", "application/json", card_to_json(stored.card, version=version)
        )
    return CommandResult(f"{stored.name} as a {form} card.", file=file)


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SHOW_PREVIEW_CHARS else flat[:SHOW_PREVIEW_CHARS] + "…"

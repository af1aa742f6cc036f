"""Each server's own /access rules: one row per allowed channel or role."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.exc import IntegrityError

from bot.core.server_access import RuleKind, ServerRules
from bot.storage.tables import AccessRuleRow
from bot.storage.transactions import Transactions, translating


class SqlAccessRules(Transactions):
    """Implements the `AccessRules` port on SQLite and PostgreSQL."""

    async def rules(self, platform: str, server: str) -> ServerRules:
        query = select(AccessRuleRow.kind, AccessRuleRow.value).where(*_of(platform, server))
        with translating("read the server's access rules"):
            async with self.reading() as session:
                rows = (await session.execute(query)).all()
        channels = frozenset(value for kind, value in rows if kind == RuleKind.CHANNEL)
        roles = frozenset(value for kind, value in rows if kind == RuleKind.ROLE)
        return ServerRules(channels, roles)

    async def allow(self, platform: str, server: str, kind: RuleKind, value: str) -> bool:
        """Inserted in a savepoint: two admins adding one rule at once both succeed, and
        the loser of the race hears that it was there already."""
        row = AccessRuleRow(platform=platform, server_id=server, kind=kind.value, value=value)
        with translating("save the access rule"):
            async with self.writing() as session:
                try:
                    async with session.begin_nested():
                        session.add(row)
                        await session.flush()
                except IntegrityError:
                    return False
        return True

    async def remove(self, platform: str, server: str, kind: RuleKind, value: str) -> bool:
        statement = delete(AccessRuleRow).where(
            *_of(platform, server), AccessRuleRow.kind == kind.value, AccessRuleRow.value == value
        )
        with translating("remove the access rule"):
            async with self.writing() as session:
                result = await session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    async def clear(self, platform: str, server: str) -> int:
        statement = delete(AccessRuleRow).where(*_of(platform, server))
        with translating("clear the access rules"):
            async with self.writing() as session:
                result = await session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)


def _of(platform: str, server: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return AccessRuleRow.platform == platform, AccessRuleRow.server_id == server

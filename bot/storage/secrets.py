"""Encryption of API keys at rest with Fernet keys from ENCRYPTION_KEYS (MultiFernet for rotation).

Knows ciphertexts and bindings; knows nothing of tables, and never logs or echoes a key.
"""

from __future__ import annotations

import binascii
import logging
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.core.domain import Secret
from bot.core.errors import ConfigError, StorageError, UsageError

_log = logging.getLogger(__name__)

_SEPARATOR = "\0"
_UNREADABLE = (
    "stored API key cannot be decrypted with ENCRYPTION_KEYS "
    "(rotated away, or the row was tampered with)"
)


NO_ENCRYPTION_KEYS = (
    "API keys can't be stored: the operator has not set ENCRYPTION_KEYS. "
    "Ask them to set it, or use the operator's default endpoint."
)


def connection_binding(scope: str, name: str) -> str:
    """What a connection row's ciphertext is bound to: its scope and its name."""
    return f"{scope}{_SEPARATOR}{name}"


class SecretBox:
    """Encrypts secrets under the first key and decrypts under any of them.

    Fernet has no associated data, so the binding (which row the secret belongs
    to) is encrypted in front of the value and checked on the way out: a
    ciphertext copied into another row does not decrypt there.
    """

    __slots__ = ("_fernet",)

    def __init__(self, fernet: MultiFernet) -> None:
        self._fernet = fernet

    @classmethod
    def from_keys(cls, keys: Sequence[str]) -> SecretBox:
        """Newest key first, older keys after it until every row has been rotated.

        Raises `ConfigError` naming the bad key by position, never by value.
        """
        fernets: list[Fernet] = []
        for position, key in enumerate((key.strip() for key in keys), start=1):
            if not key:
                continue
            try:
                fernets.append(Fernet(key))
            except (ValueError, binascii.Error) as exc:
                raise ConfigError(
                    f"ENCRYPTION_KEYS: key number {position} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes). Generate one with "
                    "`python -c 'from cryptography.fernet import Fernet; "
                    "print(Fernet.generate_key().decode())'`."
                ) from exc
        if not fernets:
            raise ConfigError("ENCRYPTION_KEYS is set but holds no key.")
        return cls(MultiFernet(fernets))

    def encrypt(self, secret: Secret, *, binding: str) -> bytes:
        value = secret.reveal()
        if _SEPARATOR in value:
            # The value is whatever follows the last separator; a NUL inside it
            # would let one binding pass for another.
            raise UsageError("An API key can't contain a NUL character.")
        return self._fernet.encrypt(f"{binding}{_SEPARATOR}{value}".encode())

    def decrypt(self, token: bytes, *, binding: str) -> Secret:
        """The secret, or `StorageError` if no key opens it or it belongs to another row."""
        try:
            plaintext = self._fernet.decrypt(token).decode()
        except (InvalidToken, UnicodeDecodeError) as exc:
            raise StorageError(_UNREADABLE) from exc
        bound, separator, value = plaintext.rpartition(_SEPARATOR)
        if not separator or bound != binding:
            _log.warning("a stored API key is bound to another row; refusing to use it")
            raise StorageError(_UNREADABLE)
        return Secret(value)

    def rotate(self, token: bytes) -> bytes:
        """The same plaintext under the newest key; `StorageError` if no key opens it."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken as exc:
            raise StorageError(_UNREADABLE) from exc

"""SecretBox: Fernet encryption of API keys, bound to a row, with MultiFernet rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from bot.core.domain import Secret
from bot.core.errors import ConfigError, StorageError, UsageError
from bot.storage.secrets import SecretBox, connection_binding

API_KEY = Secret("sk-test-abcdefghijklmnop1234")
ROW = connection_binding("discord:1", "channel")
OTHER_ROW = connection_binding("discord:2", "channel")


def new_key() -> str:
    return Fernet.generate_key().decode()


def test_decrypt_returns_what_was_encrypted() -> None:
    """A round trip gives the same secret back."""
    box = SecretBox.from_keys([new_key()])

    assert box.decrypt(box.encrypt(API_KEY, binding=ROW), binding=ROW) == API_KEY


def test_ciphertext_does_not_contain_the_key() -> None:
    """The token carries neither the key nor its binding in clear."""
    token = SecretBox.from_keys([new_key()]).encrypt(API_KEY, binding=ROW)

    assert API_KEY.reveal().encode() not in token
    assert b"discord:1" not in token


def test_ciphertext_bound_to_another_row_fails() -> None:
    """A token decrypted for a row it was not made for raises StorageError."""
    box = SecretBox.from_keys([new_key()])
    token = box.encrypt(API_KEY, binding=ROW)

    with pytest.raises(StorageError, match="cannot be decrypted"):
        box.decrypt(token, binding=OTHER_ROW)


def test_binding_prefix_does_not_pass_for_the_binding() -> None:
    """A binding that is a prefix of the real one is still a mismatch."""
    box = SecretBox.from_keys([new_key()])
    token = box.encrypt(API_KEY, binding=ROW)

    with pytest.raises(StorageError):
        box.decrypt(token, binding="discord:1")


def test_tampered_token_fails() -> None:
    """One flipped byte makes the token unreadable."""
    box = SecretBox.from_keys([new_key()])
    token = bytearray(box.encrypt(API_KEY, binding=ROW))
    token[len(token) // 2] ^= 0x01

    with pytest.raises(StorageError):
        box.decrypt(bytes(token), binding=ROW)


def test_wrong_key_fails_closed() -> None:
    """A box without the encrypting key raises, it never returns garbage."""
    token = SecretBox.from_keys([new_key()]).encrypt(API_KEY, binding=ROW)

    with pytest.raises(StorageError):
        SecretBox.from_keys([new_key()]).decrypt(token, binding=ROW)


def test_old_key_only_box_cannot_read_a_rotated_token() -> None:
    """Rotation re-encrypts under the new key, which the old key alone can't open."""
    old, new = new_key(), new_key()
    token = SecretBox.from_keys([old]).encrypt(API_KEY, binding=ROW)

    rotated = SecretBox.from_keys([new, old]).rotate(token)

    with pytest.raises(StorageError):
        SecretBox.from_keys([old]).decrypt(rotated, binding=ROW)


def test_new_and_old_key_box_reads_old_and_rotated_tokens() -> None:
    """During rotation both generations of tokens stay readable."""
    old, new = new_key(), new_key()
    token = SecretBox.from_keys([old]).encrypt(API_KEY, binding=ROW)
    box = SecretBox.from_keys([new, old])

    assert box.decrypt(token, binding=ROW) == API_KEY
    assert box.decrypt(box.rotate(token), binding=ROW) == API_KEY


def test_rotated_token_is_readable_by_the_new_key_alone() -> None:
    """Once every row is rotated, the old key can be dropped."""
    old, new = new_key(), new_key()
    token = SecretBox.from_keys([old]).encrypt(API_KEY, binding=ROW)

    rotated = SecretBox.from_keys([new, old]).rotate(token)

    assert SecretBox.from_keys([new]).decrypt(rotated, binding=ROW) == API_KEY


def test_rotating_an_unreadable_token_raises_storage_error() -> None:
    """Rotation can't launder a token no configured key opens."""
    token = SecretBox.from_keys([new_key()]).encrypt(API_KEY, binding=ROW)

    with pytest.raises(StorageError):
        SecretBox.from_keys([new_key()]).rotate(token)


def test_invalid_key_raises_config_error_without_echoing_it() -> None:
    """A malformed ENCRYPTION_KEYS entry is named by position, never by value."""
    bad = "not-a-fernet-key-but-a-secret-anyway"

    with pytest.raises(ConfigError, match="key number 2") as caught:
        SecretBox.from_keys([new_key(), bad])

    assert bad not in str(caught.value)


def test_no_keys_raise_config_error() -> None:
    """An empty or blank key list is a configuration error, not a box that can't decrypt."""
    with pytest.raises(ConfigError):
        SecretBox.from_keys([" ", ""])


def test_blank_entries_are_skipped() -> None:
    """A trailing comma in ENCRYPTION_KEYS leaves a blank entry that is ignored."""
    key = new_key()
    token = SecretBox.from_keys([key]).encrypt(API_KEY, binding=ROW)

    assert SecretBox.from_keys([f" {key} ", ""]).decrypt(token, binding=ROW) == API_KEY


def test_key_with_nul_is_refused() -> None:
    """The separator can't appear in a key, so one binding can never pass for another."""
    with pytest.raises(UsageError):
        SecretBox.from_keys([new_key()]).encrypt(Secret("sk-\0evil"), binding=ROW)

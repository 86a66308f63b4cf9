"""Secrets in the OS keychain through keyring, never in a file: the Hugging Face token, and
API keys for OpenAI-compatible servers (one per base URL, for ``huacaya-generate-data``), and the
key of Huacaya's own local API server.

Without a usable keychain backend a secret is kept in memory for this session only, and
``token_is_persistent()`` says so, so the window can tell the user.
"""

from __future__ import annotations

import contextlib
import logging
import secrets as random_secrets

import keyring
import keyring.errors

from desktop.core.errors import ApiKeyError, TokenError

log = logging.getLogger(__name__)

SERVICE = "Huacaya"
ACCOUNT = "huggingface-token"
API_KEY_ACCOUNT = "api-key:{base_url}"  # an OpenAI-compatible server's key, by its base URL
LOCAL_API_ACCOUNT = "local-api-key"  # the key clients must send to `huacaya serve`
_session: dict[str, str] = {}


def _backend_usable() -> bool:
    backend = keyring.get_keyring()
    priority = getattr(backend, "priority", 0)
    return not type(backend).__module__.startswith("keyring.backends.fail") and priority > 0


def token_is_persistent() -> bool:
    return _backend_usable()


def _get(account: str) -> str | None:
    if account in _session:
        return _session[account]
    if not _backend_usable():
        return None
    try:
        return keyring.get_password(SERVICE, account)
    except keyring.errors.KeyringError as exc:
        log.warning("cannot read the keychain: %s", exc)
        return None


def _set(account: str, secret: str) -> bool:
    """Store ``secret``; True if it went to the keychain, False if only into this session."""
    if _backend_usable():
        try:
            keyring.set_password(SERVICE, account, secret)
            _session.pop(account, None)
            return True
        except keyring.errors.KeyringError as exc:
            log.warning("cannot write the keychain (%s); keeping it for this session", exc)
    _session[account] = secret
    return False


def get_token() -> str | None:
    return _get(ACCOUNT)


def set_token(token: str) -> bool:
    """Store ``token``; True if it went to the keychain, False if only into this session."""
    token = token.strip()
    if not token:
        raise TokenError("The token is empty.")
    return _set(ACCOUNT, token)


def delete_token() -> None:
    _session.pop(ACCOUNT, None)
    if _backend_usable():
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            keyring.delete_password(SERVICE, ACCOUNT)


class ApiKeys:
    """API keys of OpenAI-compatible servers by base URL: the key store of generate-data."""

    @staticmethod
    def _account(base_url: str) -> str:
        return API_KEY_ACCOUNT.format(base_url=base_url.strip().rstrip("/"))

    def get(self, base_url: str) -> str | None:
        return _get(self._account(base_url))

    def set(self, base_url: str, key: str) -> bool:
        """Store ``key``; True if it went to the keychain, False if only into this session."""
        key = key.strip()
        if not key:
            raise ApiKeyError("The API key is empty.")
        return _set(self._account(base_url), key)


def local_api_key() -> str:
    """The bearer key of the local API server; a new random one is made and stored the first
    time. Kept in the keychain, it stays the same across starts, so clients keep working."""
    key = _get(LOCAL_API_ACCOUNT)
    if key:
        return key
    key = "hk-" + random_secrets.token_urlsafe(32)
    _set(LOCAL_API_ACCOUNT, key)
    return key

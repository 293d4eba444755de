"""Partnership keys: the secret every agency of a partnership hashes person keys with.

A person key is HMAC-SHA-256(key, message), the message being the normalised identifiers the
mapping names, each as `field=value`, in the fixed order of `IDENTIFIER_FIELDS`, after a version
tag and separated by the ASCII unit separator. With the partnership key, the same person gets
the same key in every agency's extract and every workspace; without it, the workspace's own
salt is the HMAC key and keys meet only within that workspace. Whoever holds the key can test a
guessed identity against a key, so the key stays outside the workspace (an environment variable
or a file of its own, mode 0600), never in svduty.toml, a report or a log.

The HMAC is computed by the engine (DuckDB's SHA-256 over the padded key, as RFC 2104 writes
it), over whole files at once; the padded key sits in a temporary table of the ingest's own
connection, never in SQL text.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from svduty.errors import InputError
from svduty.identity.normalise import FIELDS, IDENTIFIER_FIELDS, normalised_sql, sql_text

KEY_BYTES = 32
"""256 bits."""
BLOCK = 64
"""SHA-256's block size: HMAC pads (or hashes) the key to this."""
MESSAGE_TAG = "svduty-person-v1"
"""First part of every message: a change of the rules makes new keys, never colliding ones."""
KEY_TABLE = "_person_key"
SETTING = "partnership_key"


@dataclass(frozen=True)
class PersonKeySecret:
    """The secret person keys are made with, and what the lineage says of it (never the
    secret itself)."""

    secret: bytes = field(repr=False)
    label: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.secret)

    def load(self, con: duckdb.DuckDBPyConnection) -> None:
        """The padded key as the one-row temporary table the key SQL joins."""
        key = hashlib.sha256(self.secret).digest() if len(self.secret) > BLOCK else self.secret
        key = key.ljust(BLOCK, b"\0")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {KEY_TABLE} AS "
            "SELECT $inner::BLOB AS inner_pad, $outer::BLOB AS outer_pad",
            {"inner": bytes(b ^ 0x36 for b in key), "outer": bytes(b ^ 0x5C for b in key)},
        )


def fingerprint(secret: bytes) -> str:
    """The first 16 hex digits of the key's SHA-256: names a key without revealing it."""
    return hashlib.sha256(secret).hexdigest()[:16]


def hmac_sql(message: str, table: str = "k") -> str:
    """SQL for HMAC-SHA-256 (hex) of a text message, with the pads of `KEY_TABLE` as `table`."""
    return f"sha256({table}.outer_pad || unhex(sha256({table}.inner_pad || encode({message}))))"


def message_sql(parts: dict[str, str]) -> str:
    """The message for the named identifiers (field -> SQL of its normalised value), in the
    canonical order; NULL when any of them is missing, as a partial key would merge people."""
    ordered = [f.name for f in IDENTIFIER_FIELDS if f.name in parts]
    pieces = [sql_text(MESSAGE_TAG)]
    for name in ordered:
        pieces.append(f"{sql_text(name + '=')} || {parts[name]}")
    return " || chr(31) || ".join(f"({p})" for p in pieces)


def key_sql(raw: dict[str, str], formats: dict[str, str | None], table: str = "k") -> str:
    """SQL for the person key from identifier columns: field -> SQL of the trimmed raw text."""
    parts = {
        name: normalised_sql(FIELDS[name].kind, sql, formats.get(name)) for name, sql in raw.items()
    }
    return hmac_sql(message_sql(parts), table)


def message(values: dict[str, str]) -> bytes:
    """The message for already-normalised values, in Python (what `message_sql` builds)."""
    ordered = [f.name for f in IDENTIFIER_FIELDS if f.name in values]
    return "\x1f".join([MESSAGE_TAG, *(f"{n}={values[n]}" for n in ordered)]).encode()


# -- the key file and the setting ------------------------------------------------------------


def create_key_file(path: Path) -> str:
    """Write a new random key (hex, one line) to a new file readable by its owner only; the
    fingerprint. An existing file is never overwritten: it may be the only copy of a key."""
    secret = secrets.token_bytes(KEY_BYTES)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(
            f"{path}: the file exists; svduty never overwrites a key (it may be the only copy). "
            "Give another name, or remove the old key yourself once no data needs it"
        ) from None
    except OSError as error:
        raise InputError(f"{path}: cannot write the key ({error.strerror})") from error
    try:
        os.fchmod(handle, 0o600)  # whatever the umask
        os.write(handle, (secret.hex() + "\n").encode())
    finally:
        os.close(handle)
    return fingerprint(secret)


def parse_key(text: str, where: str) -> bytes:
    """A key as written by `svduty keys create`: 64 hexadecimal characters."""
    cleaned = text.strip()
    try:
        secret = bytes.fromhex(cleaned)
    except ValueError:
        secret = b""
    if len(secret) != KEY_BYTES:
        raise InputError(
            f"{where}: not a partnership key (expected {2 * KEY_BYTES} hexadecimal characters, "
            "as `svduty keys create` writes)"
        )
    return secret


def read_key(spec: str, where: str, workspace: Path | None = None) -> PersonKeySecret:
    """The key a spec names: `env:NAME` (an environment variable holding the key), `file:PATH`
    or a bare path (a key file). `where` says who named it, for the error. A key file inside
    the workspace is refused: the workspace is shared with its readers, the key is not."""
    if spec.startswith("env:"):
        name = spec.removeprefix("env:")
        value = os.environ.get(name)
        if not value:
            raise InputError(
                f"{where} names the environment variable {name}, which is not set; set it to "
                "the partnership key (the contents of the key file), or empty the setting to "
                "key persons with this workspace's own salt"
            )
        secret = parse_key(value, f"{where} (environment variable {name})")
        return PersonKeySecret(secret, f"partnership key {fingerprint(secret)}")
    path = Path(spec.removeprefix("file:")).expanduser()
    if workspace is not None:
        if not path.is_absolute():
            path = workspace / path
        if path.resolve().is_relative_to(workspace.resolve()):
            raise InputError(
                f"{where} names {path}, inside the workspace; keep the key outside it (the "
                "workspace is shared with its readers) and name it by an absolute path"
            )
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise InputError(f"{where} names the key file {path}, which does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or "not a key file"
        raise InputError(
            f"{where} names the key file {path}, which cannot be read ({reason})"
        ) from error
    secret = parse_key(text, f"{where} (key file {path})")
    return PersonKeySecret(secret, f"partnership key {fingerprint(secret)}")


def settings_key(root: Path, spec: str) -> PersonKeySecret | None:
    """The key a workspace's `partnership_key` setting names, or None when it names none;
    errors name the settings file and the setting."""
    if not spec:
        return None
    return read_key(spec, f"{root / 'svduty.toml'}: {SETTING}", root)


def check_spec(spec: str) -> str | None:
    """Why a partnership_key setting is malformed, if it is."""
    if spec == "" or any(
        spec.startswith(prefix) and spec.removeprefix(prefix).strip()
        for prefix in ("env:", "file:")
    ):
        return None
    return (
        f"{SETTING} must be empty, 'env:NAME' (an environment variable holding the key) or "
        f"'file:/path/to/key' (a key file outside the workspace); {spec!r} was given"
    )

"""Which case a referral id names.

The deployment's case-id key (see ``domain.identity``) comes from settings, else it is
generated once and kept in the data folder, like the token and payload keys of the
embedded default.  A referral id already known to the read model keeps the case it opened
(ids derived before the key existed included); a new one gets the keyed id.
"""

from __future__ import annotations

import os
import secrets

import asyncpg

from api import readmodel
from api.commands import CaseCommands
from settings import Settings


def case_id_key(settings: Settings) -> bytes:
    if settings.case_id_key is not None:
        return settings.case_id_key.get_secret_value().encode()
    path = settings.data_dir / "case-id.key"
    if not path.exists():
        # Created exclusively, complete before anyone can read it: two API processes starting
        # together must end up with the one key (two keys would give one referral two cases).
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_suffix(f".{os.getpid()}.tmp")
        draft.write_text(secrets.token_urlsafe(48))
        draft.chmod(0o600)
        try:
            os.link(draft, path)  # fails if another process got there first: theirs stands
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip().encode()


async def case_of_referral(db: asyncpg.Connection, commands: CaseCommands, external_referral_id: str) -> str:
    known = await readmodel.find_case_by_referral(db, external_referral_id)
    return known[0] if known else commands.case_id_for(external_referral_id)

"""Which case a referral id names.

The deployment's case-id key (see ``domain.identity``) comes from settings, else it is
generated once and kept in the data folder, like the token and payload keys of the
embedded default.  A referral id already known to the read model keeps the case it opened
(ids derived before the key existed included); a new one gets the keyed id.
"""

from __future__ import annotations

import asyncpg

from api import readmodel
from api.commands import CaseCommands
from api.secret_files import data_folder_secret
from settings import Settings


def case_id_key(settings: Settings) -> bytes:
    if settings.case_id_key is not None:
        return settings.case_id_key.get_secret_value().encode()
    # Two keys would give one referral two cases: every process must read the same one.
    return data_folder_secret(settings.data_dir / "case-id.key").encode()


async def case_of_referral(db: asyncpg.Connection, commands: CaseCommands, external_referral_id: str) -> str:
    known = await readmodel.find_case_by_referral(db, external_referral_id)
    return known.case_id if known else commands.case_id_for(external_referral_id)

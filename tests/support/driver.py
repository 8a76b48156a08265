"""The case driver of the tests: the API client (``case_client.CaseClient``) working as the
test accounts, with the example forms."""

from __future__ import annotations

import httpx

from case_client import CaseClient
from tests.support.forms import example_form
from tests.support.users import TEST_PASSWORD, worker_for


class CaseDriver(CaseClient):
    """Works cases through ``client`` (the API's base URL) as the test accounts."""

    def __init__(self, client: httpx.AsyncClient, password: str = TEST_PASSWORD):
        super().__init__(client, password=password, worker_for=worker_for, form_for=example_form)

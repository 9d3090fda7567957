"""Fixtures of the security tests: a per-session PKI."""

from __future__ import annotations

import pytest
from pki import Pki, write_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return write_pki(tmp_path_factory.mktemp("pki"))

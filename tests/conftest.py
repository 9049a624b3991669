"""Shared fixtures: a store and Python-guest helpers."""

import pytest

from stackswitch.canon.store import Store


@pytest.fixture
def store():
    return Store()

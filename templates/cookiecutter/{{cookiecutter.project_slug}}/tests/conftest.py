from __future__ import annotations

from pathlib import Path

import pytest
from webkit import web

from {{ cookiecutter.project_slug }}.app import create_app
from {{ cookiecutter.project_slug }}.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(title="Test site", database=str(tmp_path / "test.sqlite3"))


@pytest.fixture
def app(settings: Settings) -> web.Application:
    return create_app(settings)

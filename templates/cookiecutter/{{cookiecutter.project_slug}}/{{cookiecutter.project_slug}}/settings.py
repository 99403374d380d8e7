"""Settings, read from the environment once, when the app is created."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from webkit import web

ENV_PREFIX = "{{ cookiecutter.project_slug|upper }}_"


@dataclass(frozen=True)
class Settings:
    """What the app needs to know about where it runs."""

    title: str = "{{ cookiecutter.project_name }}"
    database: str = "{{ cookiecutter.project_slug }}.sqlite3"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the ``ENV_PREFIX`` variables; those unset keep their defaults."""
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            title=env.get(ENV_PREFIX + "TITLE", defaults.title),
            database=env.get(ENV_PREFIX + "DATABASE", defaults.database),
        )


SETTINGS = web.AppKey("settings", Settings)
"""Where `create_app` stores the settings: ``request.app[SETTINGS]``."""

"""The class's dataset on a shared instance: the folder the admin chose, kept in
``<studio home>/classroom.json`` so every session and every server process on that
home trains on it (written atomically; a missing or damaged file means "not chosen")."""

from __future__ import annotations

import json
from pathlib import Path

from ..paths import studio_home


class ClassDataset:
    """The admin's choice of dataset for the class (``None``: the synthetic demo set)."""

    def __init__(self, home: str | Path | None = None):
        self.path = Path(home or studio_home()) / "classroom.json"

    def chosen(self) -> tuple[bool, str | None]:
        """(whether the admin has chosen, the folder or None for the demo set)."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return False, None
        if not isinstance(data, dict) or not isinstance(data.get("data_path"), (str, type(None))):
            return False, None
        return True, data["data_path"]

    def get(self, default: str | None = None) -> str | None:
        """The chosen folder; ``default`` (the deployment's dataset) when none was chosen."""
        chosen, path = self.chosen()
        return path if chosen else default

    def set(self, path: str | None) -> None:
        """Choose ``path`` (None: the demo set) for the whole class."""
        from ..fileio import atomic_write_json

        atomic_write_json(self.path, {"data_path": path})

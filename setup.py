"""The build step that pyproject.toml cannot express: the wheel carries the templates.

The reply and page templates stay in the repository's top-level `templates/` folder (people
edit them there); a built wheel gets a copy at `listener/_templates/`, where
`listener.outreach.templates.builtin_templates()` finds them. An editable install reads the
checkout's folder directly, so nothing is copied for it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

TEMPLATES = Path(__file__).resolve().parent / "templates"


class BuildWithTemplates(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "listener" / "_templates"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(TEMPLATES, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithTemplates})

"""The Python snippet of README.md ("Using sci from Python") runs as written, from the
repository's root, so the README cannot drift from the package."""

import os
import re

from conftest import REPO


def test_the_readme_snippet_runs(monkeypatch):
    text = (REPO / "README.md").read_text()
    section = text.split("## Using sci from Python", 1)[1].split("\n## ", 1)[0]
    [snippet] = re.findall(r"```python\n(.*?)```", section, re.S)
    monkeypatch.chdir(REPO)
    namespace = {}
    exec(compile(snippet, "README.md", "exec"), namespace)
    assert namespace["sol"].y.shape == (201, 2)
    assert os.path.samefile(os.getcwd(), REPO)

"""Every Python code block of README.md runs as written.

Each ```python block is executed on its own, in a fresh namespace, in a temporary working
directory (a block may write files, e.g. ``enc.save("minilm-2of4")``). A block can be left
out only by an HTML comment right above it that says why — ``<!-- readme-test: skip: REASON -->``
— so the reason is visible to whoever reads the README's source.
"""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(r"(?:<!--\s*readme-test:\s*skip:\s*(?P<skip>.*?)\s*-->\s*\n)?```python\n(?P<code>.*?)```", re.S)


def _blocks():
    text = README.read_text(encoding="utf-8")
    blocks = []
    for m in _BLOCK.finditer(text):
        heading = [h for h in re.findall(r"^\*\*(.+?)\*\*|^#+ (.+)$", text[:m.start()], re.M)][-1]
        title = next(h for h in heading if h)
        line = text[:m.start()].count("\n") + 1
        blocks.append(pytest.param(m.group("code"), m.group("skip"), id=f"line{line}-{title.split(' ')[0]}"))
    return blocks


def test_readme_has_python_blocks():
    assert len(_blocks()) >= 6        # one per part of the API; a regex that found none would pass vacuously


@pytest.mark.parametrize("code, skip", _blocks())
def test_readme_block_runs(code, skip, tmp_path, monkeypatch):
    if skip:
        pytest.skip(f"README says: {skip}")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})

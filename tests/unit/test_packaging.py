"""The wheel: built from this tree, installed in a fresh venv, finds its prompts and package data."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_installed_wheel_ships_prompts_and_data(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(dist.glob("uiagent-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], check=True, capture_output=True)
    probe = (
        "import json, agent, agent.planners.prompt_files as p\n"
        "from importlib import resources\n"
        "print(json.dumps({'file': agent.__file__, 'dir': str(p.prompt_dir()),\n"
        "  'prompts': {n: p.read_prompt(n) for n in p.prompt_names()},\n"
        "  'openbox': (resources.files('agent') / 'data' / 'openbox-rc.xml').is_file()}))\n"
    )
    out = subprocess.run([str(py), "-c", probe], cwd=tmp_path, check=True, capture_output=True, text=True)
    import json
    found = json.loads(out.stdout)
    assert str(env_dir) in found["file"], "imported the source tree instead of the wheel"
    assert found["dir"].startswith(str(env_dir))
    expected = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "prompts").iterdir() if p.is_file()}
    assert found["prompts"] == expected and expected
    assert found["openbox"]

"""The wheel: built from this tree, installed in a fresh venv, finds its prompts and package data,
and gives `import uiagent`, the `uiagent` command and the pytest11 plugin from the wheel itself."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
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
    # The dependencies come from the test venv, after the fresh venv's own site-packages (the wheel wins).
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    probe = (
        "import json, agent, uiagent, agent.planners.prompt_files as p\n"
        "from importlib import metadata, resources\n"
        "plugins = {e.name: e.value for e in metadata.entry_points(group='pytest11')}\n"
        "print(json.dumps({'file': agent.__file__, 'dir': str(p.prompt_dir()), 'uiagent': uiagent.__file__,\n"
        "  'all': uiagent.__all__, 'plugin': plugins.get('uiagent'),\n"
        "  'prompts': {n: p.read_prompt(n) for n in p.prompt_names()},\n"
        "  'template': (resources.files('agent.recording') / 'templates' / 'report.html.j2').is_file(),\n"
        "  'openbox': (resources.files('agent') / 'data' / 'openbox-rc.xml').is_file()}))\n"
    )
    out = subprocess.run([str(py), "-c", probe], cwd=tmp_path, check=True, capture_output=True, text=True)
    import json
    found = json.loads(out.stdout)
    assert str(env_dir) in found["file"], "imported the source tree instead of the wheel"
    assert found["dir"].startswith(str(env_dir))
    expected = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "prompts").iterdir() if p.is_file()}
    assert found["prompts"] == expected and expected
    assert found["openbox"] and found["template"]
    assert found["uiagent"].startswith(str(env_dir)) and "run_agent" in found["all"]
    assert found["plugin"] == "agent.testing.plugin"
    version = subprocess.run([str(env_dir / "bin" / "uiagent"), "--version"], cwd=tmp_path, capture_output=True,
                             text=True, check=True)
    assert version.stdout.strip().endswith("0.1.0")

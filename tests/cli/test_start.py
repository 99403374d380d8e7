"""``webkit start``: the command, its refusals, prompts on a terminal, the installed wheel, and
the generated project installed, tested and served for real.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import threading
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import webkit
from webkit.cli import cli

CHECKOUT = Path(webkit.__file__).resolve().parents[2]
TEMPLATE = CHECKOUT / "templates" / "cookiecutter"
STATIC = TEMPLATE / "{{cookiecutter.project_slug}}" / "{{cookiecutter.project_slug}}" / "static"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def start(*args: str) -> Result:
    return CliRunner().invoke(cli, ["start", *args], catch_exceptions=False)


def tree(root: Path) -> dict[str, tuple[bytes | None, int]]:
    return {
        path.relative_to(root).as_posix(): (
            None if path.is_dir() else path.read_bytes(),
            stat.S_IMODE(path.stat().st_mode),
        )
        for path in sorted(root.rglob("*"))
    }


def snapshot(root: Path) -> dict[str, tuple[bytes | None, int]]:
    return tree(root) if root.exists() else {}


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTHON", "COOKIECUTTER", "WEBKIT_", "VIRTUAL_ENV"))
    }
    env.update(extra)
    return env


# ----------------------------------------------------------------------------- the command


def test_creates_the_project_and_prints_the_next_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # stdin is not a terminal under CliRunner: --no-input is implied, nothing is asked
    result = start("blog-engine", "--set", "author=Ann")
    assert result.exit_code == 0, result.output
    project = tmp_path / "blog-engine"
    assert (project / "blog_engine" / "app.py").is_file()
    pyproject = (project / "pyproject.toml").read_text()
    assert 'name = "blog_engine"' in pyproject
    assert 'description = "Blog Engine: a web application built with webkit."' in pyproject
    assert 'authors = [{ name = "Ann" }]' in pyproject
    readme = (project / "README.md").read_text()
    first_command = re.search(r"```console\n(.*)\n", readme)
    assert first_command is not None
    assert first_command.group(1) == "webkit runserver blog_engine/app.py:create_app"
    assert f"Created Blog Engine in {project}" in result.output
    lines = [line.strip() for line in result.output.splitlines()]
    steps = lines[lines.index("Next:") + 1 :]
    assert steps[0] == "cd blog-engine"
    assert "pip install -e '.[test]'" in steps
    assert steps[-2:] == ["webkit runserver blog_engine/app.py:create_app", "pytest"]


def test_refuses_a_non_empty_directory_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "blog"
    target.mkdir()
    (target / "notes.txt").write_text("keep me\n")
    before = snapshot(tmp_path)
    result = start(str(target), "--no-input")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"Error: '{target}' is not empty (hint:")
    assert "--force" in result.output
    assert snapshot(tmp_path) == before

    result = start(str(target), "--no-input", "--force")
    assert result.exit_code == 0, result.output
    assert (target / "notes.txt").read_text() == "keep me\n"
    assert (target / "blog" / "app.py").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "project_slug=class"], "'class' is a Python keyword"),
        (["--set", "project_slug=json"], "would shadow the standard library's module 'json'"),
        (["--set", "project_name=Web Kit", "--set", "project_slug=webkit"], "shadow the module"),
        (["--set", "project_slug=my-app"], "cannot be a Python package name"),
        (["--set", "colour=red"], "the template has no variable 'colour'"),
        (["--set", "python_version=2.7"], "'2.7' is not a choice for 'python_version'"),
        (["--set", 'description=say "hi"'], "contains"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    target = tmp_path / "new" / "project"
    result = start(str(target), "--no-input", *args)
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1, result.output
    assert result.output.startswith("Error: ")
    assert message in result.output
    assert "(hint: " in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_directory_named_like_a_module_needs_another_slug(tmp_path: Path) -> None:
    result = start(str(tmp_path / "json"), "--no-input")
    assert result.exit_code == 2
    assert "--set project_slug=NAME" in result.output
    assert list(tmp_path.iterdir()) == []
    assert start(str(tmp_path / "json"), "--set", "project_slug=json_tools").exit_code == 0
    assert (tmp_path / "json" / "json_tools" / "app.py").is_file()


def test_malformed_set_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["start", str(tmp_path / "p"), "--set", "novalue"])
    assert result.exit_code == 2
    assert "'novalue' is not KEY=VALUE" in result.output
    assert not (tmp_path / "p").exists()


def test_another_template(tmp_path: Path) -> None:
    template = tmp_path / "tpl"
    (template / "{{cookiecutter.project_slug}}").mkdir(parents=True)
    (template / "cookiecutter.json").write_text(
        json.dumps({"project_name": "x", "project_slug": "{{ cookiecutter.project_name }}"})
    )
    (template / "{{cookiecutter.project_slug}}" / "hello.txt").write_text(
        "{{ cookiecutter.project_slug }}\n"
    )
    target = tmp_path / "out"
    result = start(str(target), "--template", str(template), "--set", "project_name=thing")
    assert result.exit_code == 0, result.output
    assert (target / "hello.txt").read_text() == "thing\n"
    result = start(str(tmp_path / "o2"), "--template", str(template), "--set", "author=me")
    assert result.exit_code == 2
    assert "--set takes one of: project_name, project_slug" in result.output


@pytest.mark.parametrize(
    "answers",
    [
        {"project_name": "Tea Shop", "author": "Ann Author", "python_version": "3.12"},
        {
            "project_name": "Tea Shop",
            "project_slug": "teas",
            "description": "Loose-leaf tea, online.",
            "author": "Ann O'Author",
            "python_version": "3.13",
        },
    ],
    ids=["derived", "everything-set"],
)
def test_same_files_as_the_cookiecutter_command(tmp_path: Path, answers: dict[str, str]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    pairs = [f"{key}={value}" for key, value in answers.items()]
    argv = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(tmp_path / "cc")]
    argv += [str(TEMPLATE), *pairs]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(HOME=str(home)),
    )
    assert done.returncode == 0, done.stderr
    (expected,) = (tmp_path / "cc").iterdir()
    sets = [arg for pair in pairs for arg in ("--set", pair)]
    result = start(str(tmp_path / "ours"), "--no-input", *sets)
    assert result.exit_code == 0, result.output
    ours = tree(tmp_path / "ours")
    assert len(ours) > 10
    assert ours == tree(expected)


def test_help_loads_neither_jinja2_nor_the_scaffold() -> None:
    code = (
        "import sys\nsys.argv = ['webkit', 'start', '--help']\nfrom webkit.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('jinja2', 'rich', 'webkit.dev'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert "PROJECT_DIR" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


# ----------------------------------------------------------------------------- a terminal


class Terminal:
    """A child process on a pseudo-terminal: read its screen, type answers."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.fd, secondary = os.openpty()
        self.proc = subprocess.Popen(
            args, stdin=secondary, stdout=secondary, stderr=secondary, cwd=cwd, env=env
        )
        os.close(secondary)
        self.screen = ""
        self.seen = 0

    def expect(self, text: str, timeout: float = 15.0) -> str:
        """Wait for ``text`` after what the last expect matched; return what came before."""
        deadline = time.monotonic() + timeout
        while text not in self.screen[self.seen :]:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(f"{text!r} not shown; screen so far:\n{self.screen}")
        at = self.screen.index(text, self.seen)
        before = self.screen[self.seen : at]
        self.seen = at + len(text)
        return before

    def type(self, line: str) -> None:
        os.write(self.fd, line.encode() + b"\r")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.screen += ANSI.sub("", data.decode(errors="replace"))
        return bool(data)

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.close(self.fd)


def test_asks_on_a_terminal_and_uses_the_answers(tmp_path: Path) -> None:
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\tname = Terminal Tester\n")
    env = clean_env(
        TERM="dumb",
        NO_COLOR="1",
        COLUMNS="200",
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
    )
    args = [sys.executable, "-m", "webkit", "start", "pty-dir", "--set", "python_version=3.12"]
    term = Terminal(args, tmp_path, env)
    try:
        term.expect("Enter keeps the default")
        term.expect("Project name (Pty Dir): ")
        term.type("Pty Project")
        term.expect("Python package name (pty_project): ")
        term.type("class")
        term.expect("'class' is a Python keyword, not a package name: try again")
        term.expect("Python package name (pty_project): ")
        term.type("pty_app")
        term.expect("Short description (Pty Project: a web application built with webkit.): ")
        term.type("")
        author_default = "Terminal Tester" if shutil.which("git") else "Your Name"
        term.expect(f"Author ({author_default}): ")
        term.type("Pat")
        term.expect("Created Pty Project in")
        term.expect("webkit runserver pty_app/app.py:create_app")
        assert "Minimum Python version" not in term.screen  # answered with --set
        assert term.close() == 0, term.screen
    finally:
        if term.proc.poll() is None:
            term.close()
    pyproject = (tmp_path / "pty-dir" / "pyproject.toml").read_text()
    assert 'name = "pty_app"' in pyproject
    assert 'description = "Pty Project: a web application built with webkit."' in pyproject
    assert 'authors = [{ name = "Pat" }]' in pyproject
    assert 'requires-python = ">=3.12"' in pyproject
    assert (tmp_path / "pty-dir" / "pty_app" / "views.py").is_file()


def test_end_of_input_on_a_terminal_writes_nothing(tmp_path: Path) -> None:
    term = Terminal(
        [sys.executable, "-m", "webkit", "start", "eof"], tmp_path, clean_env(TERM="dumb")
    )
    term.expect("Project name (Eof): ")
    os.write(term.fd, b"\x04")  # Ctrl-D
    term.expect("Error: no answer (end of input): nothing was written")
    assert term.close() == 2
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- the wheel


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("hatchling")
    out = tmp_path_factory.mktemp("wheel")
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index"]
    argv += ["--quiet", "-w", str(out), str(CHECKOUT)]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(PIP_NO_INPUT="1"),
    )
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("webkit-*.whl")
    return built


def test_the_wheel_carries_the_template(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected = {
        "webkit/_templates/cookiecutter/" + p.relative_to(TEMPLATE).as_posix()
        for p in TEMPLATE.rglob("*")
        if p.is_file()
    }
    assert "webkit/_templates/cookiecutter/cookiecutter.json" in expected
    assert any(name.endswith("/.gitignore") for name in expected)
    assert expected <= names
    assert not any(name.startswith("templates/") for name in names)


@pytest.mark.parametrize("form", ["unpacked", "zipped"])
def test_start_works_from_the_wheel(wheel: Path, tmp_path: Path, form: str) -> None:
    """The wheel on sys.path instead of the checkout: unpacked (as pip installs it) or as the
    zip file itself (zipimport: the template is extracted to a temporary directory)."""
    if form == "unpacked":
        site = tmp_path / "site"
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)
        path_entry = str(site)
    else:
        path_entry = str(wheel)
    work = tmp_path / "work"
    work.mkdir()
    code = (
        "import sys, webkit\nprint('webkit from', webkit.__file__, flush=True)\n"
        "from webkit.cli import main\nsys.argv = ['webkit', *sys.argv[1:]]\nmain()\n"
    )
    argv = [sys.executable, "-P", "-c", code, "start", "from-wheel", "--no-input"]
    argv += ["--set", "author=Wheel", "--set", "python_version=3.12"]
    done = subprocess.run(
        argv,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(PYTHONPATH=path_entry),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"webkit from {path_entry}{os.sep}webkit{os.sep}__init__.py")
    from_checkout = tmp_path / "checkout"
    sets = ["--set", "project_name=From Wheel", "--set", "author=Wheel"]
    result = start(str(from_checkout), *sets, "--set", "python_version=3.12")
    assert result.exit_code == 0, result.output
    assert tree(work / "from-wheel") == tree(from_checkout)


# ----------------------------------------------------------------------------- for real


def make_venv(root: Path) -> Path:
    """A fresh venv that sees this interpreter's packages through a .pth file (no network)."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=60
    )
    python = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "_dev_packages.pth").write_text("\n".join(sorted(ours)) + "\n")
    return python


class Output:
    """The lines a child prints, read by a thread so that waiting can time out."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._pump, args=(proc,), daemon=True)
        self.thread.start()

    def _pump(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for line in self.lines:
                    if match := re.search(pattern, line):
                        return match.group(0)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.thread.is_alive():
                    text = "".join(self.lines)
                    raise AssertionError(f"{pattern!r} not printed in {timeout} s:\n{text}")
                self.changed.wait(min(remaining, 0.5))


def fetch(port: int, path: str) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        connection.close()


@pytest.mark.timeout(180)
def test_the_project_installs_passes_its_tests_and_serves(tmp_path: Path) -> None:
    """Scaffold, install into a fresh venv (offline), run its tests, serve it over TCP.

    The venv gets this interpreter's installed packages (webkit's dependencies, pytest,
    hatchling) through a .pth file, then pip installs this checkout of webkit and the new
    project into it, editable, with no index and no build isolation: nothing is downloaded.
    """
    project = tmp_path / "shop-front"
    result = start(str(project), "--set", "author=E2E", "--set", "python_version=3.11")
    assert result.exit_code == 0, result.output
    python = make_venv(tmp_path / "venv")
    bindir = python.parent
    env = clean_env(PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    argv = [str(python), "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index"]
    argv += ["--quiet", "-e", str(CHECKOUT), "-e", str(project)]
    install = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    # Installed: importable from anywhere (-P: the current directory is not on sys.path).
    where = subprocess.run(
        [str(python), "-P", "-c", "import shop_front, webkit; print(shop_front.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert where.stdout.strip() == str(project / "shop_front" / "__init__.py"), where.stderr

    tests = subprocess.run(
        [str(python), "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "4 passed" in tests.stdout

    typed = subprocess.run(
        [str(python), "-P", "-m", "mypy", "--no-incremental"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert typed.returncode == 0, typed.stdout + typed.stderr

    # The README's first command, with the venv's own `webkit` script, from the project dir.
    script = bindir / ("webkit.exe" if os.name == "nt" else "webkit")
    server = subprocess.Popen(
        [str(script), "runserver", "shop_front/app.py:create_app", "--port", "0"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env(NO_COLOR="1", COLUMNS="200"),
        start_new_session=True,
    )
    output = Output(server)
    try:
        url = output.wait_for(r"http://127\.0\.0\.1:\d+/")
        output.wait_for(r"Ready in")
        port = int(url.rsplit(":", 1)[1].rstrip("/"))

        status, content_type, body = fetch(port, "/")
        assert status == 200
        assert content_type.startswith("text/html")
        page = body.decode()
        assert "<h1>Shop Front</h1>" in page
        assert 'href="/static/style.css"' in page

        status, content_type, body = fetch(port, "/static/style.css")
        assert (status, content_type.split(";")[0]) == (200, "text/css")
        assert body == (STATIC / "style.css").read_bytes()

        status, content_type, body = fetch(port, "/static/favicon.ico")
        assert status == 200
        assert body == (STATIC / "favicon.ico").read_bytes()

        status, content_type, body = fetch(port, "/api/status")
        assert (status, content_type.split(";")[0]) == (200, "application/json")
        assert json.loads(body) == {"name": "Shop Front", "version": "0.1.0", "visits": 1}

        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10) as ws:
            ws.send("over real TCP")
            assert ws.recv(timeout=10) == "over real TCP"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGINT)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        output.thread.join(timeout=10)
        assert server.stdout is not None
        server.stdout.close()
    assert any("GET /api/status 200" in line for line in output.lines), "".join(output.lines)

"""A real Jupyter server on loopback, for browser tests and the Studio benchmark.

``JupyterServer(root, env)`` starts ``jupyter lab`` (which also serves Notebook 7 at
``/tree`` and ``/notebooks/…`` when the ``notebook`` package is installed) on 127.0.0.1 with
a token, in its own config and settings folders, and waits until it answers. Widget state
saving ("Save Jupyter widget state in notebooks", off by default in JupyterLab) is a
setting of the server's front end: :meth:`save_widget_state` turns it on or off for pages
opened afterwards.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

__all__ = ["JupyterServer"]

TOKEN = "pixelnb-test-token"
_WIDGETS_PLUGIN = "@jupyter-widgets/jupyterlab-manager:plugin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class JupyterServer:
    """``with JupyterServer(root, env) as server:`` — ``server.url(path)`` opens a page."""

    def __init__(
        self, root: Path, env: dict[str, str] | None = None, *, startup_timeout: float = 90.0
    ) -> None:
        self.root = Path(root)
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k != "LUMAAI_API_KEY"}
        self.env.update(
            JUPYTER_CONFIG_DIR=str(self.root / ".cfg"),
            JUPYTERLAB_SETTINGS_DIR=str(self.root / ".settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(self.root / ".workspaces"),
            **(env or {}),
        )
        self.log_path = self.root / ".jupyter.log"
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> JupyterServer:
        # No "get notified about Jupyter news?" toast over the page (or a screenshot).
        news = Path(self.env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "apputils-extension"
        news.mkdir(parents=True, exist_ok=True)
        (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
        log = self.log_path.open("w")
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                f"--IdentityProvider.token={TOKEN}",
                f"--ServerApp.root_dir={self.root}",
                "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--allow-root",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:  # the server says when it is up
            try:
                if self.api("GET", "/api/status", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("Jupyter did not start:\n" + self.log_path.read_text()[-3000:])
            time.sleep(0.2)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None

    def __enter__(self) -> JupyterServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def api(self, method: str, path: str, *, timeout: float = 10.0, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"token {TOKEN}"}
        return httpx.request(method, self.base + path, headers=headers, timeout=timeout, **kwargs)

    def lab(self, notebook: str, workspace: str | None = None) -> str:
        """The JupyterLab address of a notebook, in a fresh workspace of its own."""
        ws = workspace or Path(notebook).stem
        return f"{self.base}/lab/workspaces/{ws}/tree/{notebook}?reset&token={TOKEN}"

    def notebook7(self, notebook: str) -> str:
        """The Notebook 7 address of a notebook."""
        return f"{self.base}/notebooks/{notebook}?token={TOKEN}"

    def save_widget_state(self, on: bool) -> None:
        """Turn JupyterLab's "save widget state" setting on or off (pages opened later)."""
        body = json.dumps({"raw": json.dumps({"saveState": on})})
        resp = self.api("PUT", f"/lab/api/settings/{_WIDGETS_PLUGIN}", content=body)
        resp.raise_for_status()

    def shutdown_kernels(self) -> None:
        """End every kernel: a notebook opened afterwards finds its widget models gone."""
        for session in self.api("GET", "/api/sessions").json():
            self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.api("GET", "/api/kernels").json():
            self.api("DELETE", f"/api/kernels/{kernel['id']}")

"""A loopback HTTP fake of Luma's Dream Machine API, faithful to its documented contract.

It serves ``/dream-machine/v1`` on 127.0.0.1: both video create paths, video modify
and reframe, upscale and audio (each a new generation), image reframe, Photon image
create (a rendered PNG/JPEG per generation, with Photon's own limits of 40 concurrent and
80 creates a minute), get, list, delete, credits, concepts and ping; ``callback_url``
delivery (the generation POSTed on dreaming, completed and failed, to loopback receivers
only); a video per prompt word (``videos={"walk": ...}``); 401 without a valid bearer
key; 400 ``{"detail": "400: ..."}`` for the documented validation errors; 404; 429 with
``Retry-After`` past 10 active generations or 20 creates a minute. Generations move
``queued → dreaming → completed`` on a configurable clock and serve a real MP4 (with
``Range`` support) as ``assets.video``; prompts with a refused word fail moderation.
Faults can be injected: 5xx, slow answers, dropped connections, a create that is accepted
but never answered, truncated downloads.

Point the official SDK (or pixelnb) at it with
``LUMAAI_BASE_URL=http://127.0.0.1:PORT/dream-machine/v1``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["FAULTS", "IMAGE_MODELS", "REFUSED_WORDS", "FakeLuma", "render_image"]

FAULTS = ("500", "accepted_500", "slow", "drop", "lost", "429", "truncate")
REFUSED_WORDS = ("forbidden", "blacklisted", "nsfw")
# The concept keys luma-api.md §1.3 lists (a mirror of Luma's list endpoint).
CONCEPTS = [
    "truck_left", "truck_right", "pan_left", "pan_right", "pedestal_up", "pedestal_down", "tilt_up",
    "tilt_down", "roll_left", "roll_right", "zoom_in", "zoom_out", "push_in", "pull_out", "dolly_zoom",
    "orbit_left", "orbit_right", "crane_up", "crane_down", "aerial", "aerial_drone", "low_angle",
    "high_angle", "eye_level", "ground_level", "over_the_shoulder", "pov", "selfie", "handheld", "static",
    "bolt_cam", "overhead", "elevator_doors", "tiny_planet",
]  # fmt: skip
IMAGE_MODELS = ("photon-1", "photon-flash-1")
IMAGE_KINDS = ("image", "reframe_image")  # the generation types whose result is a picture
MODIFY_MODES = tuple(f"{m}_{i}" for m in ("adhere", "flex", "reimagine") for i in (1, 2, 3))
_ENUMS = {
    "model": ("ray-2", "ray-flash-2"),
    "aspect_ratio": ("1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"),
    "resolution": ("540p", "720p", "1080p", "4k"),
    "duration": ("5s", "9s"),
}
PREFIX = "/dream-machine/v1"


class _Drop(Exception):
    """Close the connection without an answer."""


class FakeLuma:
    """The fake server. Use as a context manager, or call :meth:`start` and :meth:`stop`.

    ``queue_seconds`` and ``dream_seconds`` set how long a generation spends queued and
    dreaming on ``clock`` (any function returning seconds; pass your own to step time
    by hand). ``fault_rate`` injects a random fault (from ``faults``) into that share of
    calls, with a seeded generator; :meth:`inject` queues specific ones.
    """

    def __init__(
        self,
        video: str | Path | bytes | None = None,
        *,
        api_key: str | None = None,
        queue_seconds: float = 0.05,
        dream_seconds: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        max_active: int = 10,
        creates_per_minute: int = 20,
        fault_rate: float = 0.0,
        faults: tuple[str, ...] = FAULTS,
        slow_seconds: float = 3.0,
        seed: int = 0,
        credits: float = 100_000.0,
        host: str = "127.0.0.1",
        port: int = 0,
        state: str | Path | None = None,
        echo_key: bool = False,
        videos: Mapping[str, str | Path | bytes] | None = None,
        max_active_images: int = 40,
        images_per_minute: int = 80,
    ) -> None:
        if video is None:
            from pixelnb.data import sample_clip

            video = sample_clip()
        self.video = _read(video)
        self.etag = _etag(self.video)
        # A generation whose prompt holds one of these words serves that video (the first
        # word found), so a test of several actions gets a different clip for each.
        self.videos = {k.lower(): _read(v) for k, v in (videos or {}).items()}
        self.max_active_images = max_active_images
        self.images_per_minute = images_per_minute
        self.callbacks: list[tuple[str, str, int]] = []  # (generation id, state, status) delivered
        self.callbacks_withheld: list[str] = []  # callback URLs off this machine, never called
        self.state_file = Path(state) if state is not None else None
        self.ranges: list[str | None] = []  # the Range header of every video download
        self.trickle = 0  # bytes per 50 ms for downloads (0: all at once): a slow server
        self.redirects: dict[str, str] = {}  # asset path -> where it redirects (tests set it)
        # Errors and echoed requests repeat the bearer token, as a careless server might.
        self.echo_key = echo_key
        self.api_key = api_key
        self.queue_seconds = queue_seconds
        self.dream_seconds = dream_seconds
        self.clock = clock
        self.max_active = max_active
        self.creates_per_minute = creates_per_minute
        self.fault_rate = fault_rate
        self.faults = faults
        self.slow_seconds = slow_seconds
        self.credits = credits
        self.generations: dict[str, dict[str, Any]] = {}
        self.creates = 0  # generations actually made (what Luma would bill)
        self.requests: list[tuple[str, str]] = []  # (method, path) of every call
        self.seen_keys: set[str] = set()
        self.statuses: Counter[int] = Counter()  # status codes answered
        self._rng = random.Random(seed)
        self._queued: deque[tuple[str, str]] = deque()  # (where, fault)
        self._create_times: dict[str, deque[float]] = {"video": deque(), "image": deque()}
        self._stopped = threading.Event()
        self._advanced = 0.0
        self._lock = threading.Lock()
        if self.state_file is not None and self.state_file.exists():
            self._load()
        self._server = _QuietServer((host, port), self._handler())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- life cycle --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PREFIX}"

    def start(self) -> FakeLuma:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-luma", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop as a killed server would: no new connections, and the open ones cut."""
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()

    def __enter__(self) -> FakeLuma:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"FakeLuma({self.base_url!r}, {len(self.generations)} generations)"

    # -- persistence (--state FILE) ----------------------------------------------------------
    def _save(self) -> None:
        """Write the generations to the state file (called with the lock held)."""
        if self.state_file is None:
            return
        now = self.now()
        gens = [{**g, "_t0": None, "_age": now - g["_t0"]} for g in self.generations.values()]
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        tmp.write_text(json.dumps({"saved_at": time.time(), "generations": gens}))
        tmp.replace(self.state_file)

    def _load(self) -> None:
        assert self.state_file is not None
        data = json.loads(self.state_file.read_text())
        away = max(0.0, time.time() - float(data.get("saved_at", time.time())))
        now = self.now()
        for g in data.get("generations", []):
            g["_t0"] = now - float(g.pop("_age")) - away  # time passed while the fake was down
            self.generations[g["id"]] = g

    # -- time --------------------------------------------------------------------------------
    def now(self) -> float:
        """The fake's time: its clock plus every :meth:`advance`."""
        return self.clock() + self._advanced

    def advance(self, seconds: float) -> None:
        """Move the fake's time on, so tests step generations forward without sleeping."""
        self._advanced += seconds

    # -- faults -------------------------------------------------------------------------------
    def inject(self, fault: str, on: str = "any", times: int = 1) -> None:
        """Make the next ``times`` calls of kind ``on`` (create, get, list, delete, download,
        any) fail with ``fault`` (one of :data:`FAULTS`)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose one of {FAULTS}")
        with self._lock:
            self._queued.extend([(on, fault)] * times)

    def _fault_for(self, kind: str) -> str | None:
        with self._lock:
            for i, (on, fault) in enumerate(self._queued):
                if on in (kind, "any"):
                    del self._queued[i]
                    return fault
            if self.fault_rate and self._rng.random() < self.fault_rate:
                usable = [f for f in self.faults if _applies(f, kind)]
                return self._rng.choice(usable) if usable else None
        return None

    # -- the model -------------------------------------------------------------------------------
    def _state(self, gen: dict[str, Any]) -> dict[str, Any]:
        """The generation as a client sees it now, advanced on the clock."""
        before = gen["state"]
        self._advance(gen)
        if gen["state"] != before:
            self._save()
        return gen

    def _advance(self, gen: dict[str, Any]) -> dict[str, Any]:
        if gen["state"] in ("completed", "failed"):
            return gen
        age = self.now() - gen["_t0"]
        if age >= self.queue_seconds + self.dream_seconds:
            prompt = (gen["request"].get("prompt") or "").lower()
            if any(w in prompt for w in REFUSED_WORDS):
                gen["state"], gen["failure_reason"] = (
                    "failed",
                    "400: prompt not allowed because advanced moderation failed",
                )
            elif "gpu-fail" in prompt:
                gen["state"], gen["failure_reason"] = "failed", "Job failed"
            elif gen.get("generation_type") in IMAGE_KINDS:
                gen["state"] = "completed"
                ext = "jpg" if gen["request"].get("format") == "jpg" else "png"
                gen["assets"] = {
                    "video": None,
                    "image": f"http://127.0.0.1:{self.port}/assets/{gen['id']}.{ext}",
                }
            else:
                gen["state"] = "completed"
                gen["assets"] = {
                    "video": f"http://127.0.0.1:{self.port}/assets/{gen['id']}.mp4",
                    "image": f"http://127.0.0.1:{self.port}/assets/{gen['id']}.jpg",
                    "progress_video": None,
                }
        elif age >= self.queue_seconds:
            gen["state"] = "dreaming"
        return gen

    @staticmethod
    def _public(gen: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in gen.items() if not k.startswith("_")}

    def _active(self, bucket: str = "video") -> int:
        """Unfinished generations of one limit: Photon's ("image") or Ray's ("video")."""
        return sum(
            1
            for g in self.generations.values()
            if ("image" if g.get("generation_type", "video") in IMAGE_KINDS else "video") == bucket
            and self._state(g)["state"] in ("queued", "dreaming")
        )

    def _validate_image(self, body: dict[str, Any]) -> str | None:
        """Photon's create: the SDK's fields and the documented limits."""
        for name in ("prompt", "model", "aspect_ratio", "format", "callback_url"):
            if name in body and body[name] is not None and not isinstance(body[name], str):
                return f"Invalid {name}: must be a string, got {type(body[name]).__name__}"
        if body.get("model") is None:
            return "model is required"
        if body["model"] not in IMAGE_MODELS:
            return f"Invalid model: {body['model']!r}"
        if "aspect_ratio" in body and body["aspect_ratio"] not in _ENUMS["aspect_ratio"]:
            return f"Invalid aspect_ratio: {body['aspect_ratio']!r}"
        if "format" in body and body["format"] not in ("jpg", "png"):
            return f"Invalid format: {body['format']!r}"
        prompt = body.get("prompt")
        if not prompt and not body.get("modify_image_ref"):
            return "Prompt is required"
        if prompt is not None and not 3 <= len(prompt) <= 5000:
            return "Prompt must be from 3 to 5000 characters"
        for name in ("image_ref", "style_ref"):
            refs = body.get(name)
            if refs is None:
                continue
            if not isinstance(refs, list) or not all(_is_ref(r) for r in refs):
                return f"Invalid {name}: must be a list of {{url, weight}} objects"
            if len(refs) > 4:
                return f"Too many {name} images: at most 4"
        mod = body.get("modify_image_ref")
        if mod is not None and not _is_ref(mod):
            return "Invalid modify_image_ref: must be a {url, weight} object"
        char = body.get("character_ref")
        if char is not None:
            ident = char.get("identity0") if isinstance(char, dict) else None
            images = ident.get("images") if isinstance(ident, dict) else None
            if not isinstance(images, list) or not images or not all(isinstance(u, str) for u in images):
                return "Invalid character_ref: must be {identity0: {images: [url, ...]}}"
            if len(images) > 4:
                return "Too many character_ref images: at most 4"
        return None

    def _validate(self, body: dict[str, Any]) -> str | None:
        problem = _check_types(body)
        if problem:
            return problem
        for name, allowed in _ENUMS.items():
            if name in body and body[name] not in allowed:
                return f"Invalid {name}: {body[name]!r}"
        if body.get("model") is None:
            return "model is required"
        kf = body.get("keyframes") or {}
        if "keyframes" in body and not (kf.get("frame0") or kf.get("frame1")):
            return "No keyframes provided"
        images = [v for v in kf.values() if isinstance(v, dict) and v.get("type") == "image"]
        gens = [v for v in kf.values() if isinstance(v, dict) and v.get("type") == "generation"]
        prompt = body.get("prompt")
        if not prompt and not images:
            return "Prompt is required"
        if prompt is not None and len(prompt) < 3:
            return "Prompt is too short, minimum length is 3 characters"
        if prompt is not None and len(prompt) > 5000:
            return "Prompt is too long, maximum length is 5000 characters"
        if body.get("loop"):
            f0, f1 = kf.get("frame0") or {}, kf.get("frame1") or {}
            if f1.get("type") == "image" and not f0:
                return "Loop is not supported for end frame"
            if len(gens) == 2:
                return "Loop is not supported for interpolate between two videos"
            if f1.get("type") == "generation":
                return "Loop is not supported for extend reverse"
            if f0 and f1:
                return "Loop is not supported for keyframes"
        for g in gens:
            ref = self.generations.get(g.get("id", ""))
            if ref is None or self._state(ref)["state"] != "completed":
                return f"Generation {g.get('id')} is not completed"
        for c in body.get("concepts") or []:
            if not isinstance(c, dict) or c.get("key") not in CONCEPTS:
                return f"Unknown concept: {c!r}"
        return None

    def _validate_other(self, kind: str, body: dict[str, Any], source: str | None) -> str | None:
        """Upscale, audio, video modify and reframe, image reframe: the SDK's required fields."""
        if source is not None:  # upscale and audio work on a finished video generation
            ref = self.generations.get(source)
            if ref is None:
                return f"Generation {source} not found"
            if self._state(ref)["state"] != "completed" or ref.get("generation_type") in IMAGE_KINDS:
                return f"Generation {source} is not a completed video"
            if kind == "upscale_video" and body.get("resolution") not in (None, *_ENUMS["resolution"]):
                return f"Invalid resolution: {body.get('resolution')!r}"
            for name in ("prompt", "negative_prompt", "callback_url"):
                if name in body and not isinstance(body[name], str):
                    return f"Invalid {name}: must be a string"
            return None
        if body.get("generation_type") != kind:
            return f"generation_type must be {kind!r}"
        media = body.get("media")
        if not _is_ref(media):
            return "media must be an object with a url"
        models = IMAGE_MODELS if kind == "reframe_image" else _ENUMS["model"]
        if body.get("model") not in models:
            return f"Invalid model: {body.get('model')!r}"
        if kind == "modify_video" and body.get("mode") not in MODIFY_MODES:
            return f"Invalid mode: {body.get('mode')!r}"
        if kind != "modify_video" and body.get("aspect_ratio") not in _ENUMS["aspect_ratio"]:
            return f"Invalid aspect_ratio: {body.get('aspect_ratio')!r}"
        if "first_frame" in body and not _is_ref(body["first_frame"]):
            return "first_frame must be an object with a url"
        return None

    def _create(
        self, body: dict[str, Any], auth: str = "", kind: str = "video", source: str | None = None
    ) -> dict[str, Any]:
        gen_id = str(uuid.uuid4())
        request = dict(body)
        request.setdefault("generation_type", kind)
        if self.echo_key:  # a careless server repeats the token in what it echoes
            request["note"] = f"created with {auth}"
        gen = {
            "id": gen_id,
            # The SDK's Generation says "video" or "image"; the echoed request names the kind.
            "generation_type": "image" if kind in IMAGE_KINDS else "video",
            "state": "queued",
            "failure_reason": None,
            "created_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
            "assets": None,
            "model": body.get("model"),
            "request": request,
            "_t0": self.now(),
        }
        if source is not None:
            gen["_source"] = source
        if kind not in IMAGE_KINDS:
            prompt = (body.get("prompt") or "").lower()
            gen["_video"] = next((w for w in self.videos if w in prompt), None)
        self.generations[gen_id] = gen
        self.creates += 1
        self._create_times["image" if kind in IMAGE_KINDS else "video"].append(self.now())
        self._save()
        url = body.get("callback_url")
        if isinstance(url, str) and url and not _loopback(url):
            self.callbacks_withheld.append(url)  # nothing leaves the machine
        elif isinstance(url, str) and url:
            threading.Thread(
                target=self._deliver, args=(gen_id, url), name="fake-luma-callback", daemon=True
            ).start()
        return gen

    def video_of(self, gen: dict[str, Any]) -> bytes:
        """The MP4 a video generation serves: an upscale's or audio's source video, else
        the one its prompt's word maps to, or the default."""
        source = self.generations.get(gen.get("_source") or "")
        if source is not None:
            return self.video_of(source)
        word = gen.get("_video")
        return self.videos.get(word, self.video) if word else self.video

    # -- callbacks --------------------------------------------------------------------------------
    def _deliver(self, gen_id: str, url: str) -> None:
        """POST the generation to ``url`` on dreaming, completed and failed, as Luma does:
        the Generation JSON as the body, 3 retries 100 ms apart if the answer is not 200,
        5 s timeout each. Only loopback receivers are called (nothing leaves the machine)."""
        import urllib.error
        import urllib.request

        sent = ""
        while not self._stopped.is_set():
            with self._lock:
                gen = self.generations.get(gen_id)
                public = self._public(self._state(gen)) if gen is not None else None
            if public is None:
                return
            state = public["state"]
            if state != sent and state in ("dreaming", "completed", "failed"):
                body = json.dumps(public).encode()
                for _attempt in range(4):
                    req = urllib.request.Request(
                        url, body, {"Content-Type": "application/json"}, method="POST"
                    )
                    try:
                        with urllib.request.urlopen(req, timeout=5) as answer:
                            status = answer.status
                    except urllib.error.HTTPError as err:
                        status = err.code
                    except OSError:
                        status = 0
                    with self._lock:
                        self.callbacks.append((gen_id, state, status))
                    if status == 200:
                        break
                    time.sleep(0.1)
                sent = state
            if state in ("completed", "failed"):
                return
            self._stopped.wait(0.02)

    # -- HTTP ------------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "FakeLuma/1.0"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                with fake._lock:
                    fake.statuses[status] += 1
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
                if fake.echo_key and status >= 400:
                    message += f" (you sent {self.headers.get('Authorization', '')!r})"
                self._send(status, {"detail": f"{status}: {message}"}, headers)

            def _drop(self) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(2)

            def _body(self) -> dict[str, Any]:
                try:
                    data = json.loads(self._raw or b"{}")
                except json.JSONDecodeError:
                    raise ValueError("Body is not valid JSON") from None
                if not isinstance(data, dict):
                    raise ValueError("Body must be a JSON object")
                return data

            def _authorized(self) -> bool:
                auth = self.headers.get("Authorization", "")
                token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
                if token:
                    with fake._lock:
                        fake.seen_keys.add(token)
                if not token or (fake.api_key is not None and token != fake.api_key):
                    self._error(401, "Invalid API key" if token else "Missing API key")
                    return False
                return True

            def _dispatch(self, method: str) -> None:
                # Read the whole body first: an answer sent before it would leave it in the
                # connection for the next request to trip over.
                n = int(self.headers.get("Content-Length") or 0)
                self._raw = self.rfile.read(n) if n else b""
                path = self.path.split("?", 1)[0]
                with fake._lock:
                    fake.requests.append((method, path))
                try:
                    if path.startswith("/assets/"):
                        self._asset(method, path)
                    elif path.startswith(PREFIX):
                        self._api(method, path[len(PREFIX) :] or "/")
                    else:
                        self._error(404, "Not Found")
                except _Drop:
                    self._drop()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                self._dispatch("GET")

            def do_POST(self) -> None:
                self._dispatch("POST")

            def do_DELETE(self) -> None:
                self._dispatch("DELETE")

            def do_HEAD(self) -> None:
                self._dispatch("HEAD")

            def _pre_fault(self, kind: str) -> str | None:
                fault = fake._fault_for(kind)
                if fault == "slow":
                    time.sleep(fake.slow_seconds)
                    return None
                if fault == "drop":
                    raise _Drop
                if fault == "500":
                    self._error(500, "Internal Server Error")
                    return "answered"
                if fault == "429":
                    self._error(429, "Too many requests", {"Retry-After": "1"})
                    return "answered"
                return fault  # faults that act after the work (lost, accepted_500, truncate)

            def _api(self, method: str, path: str) -> None:
                if method == "GET" and path == "/ping":
                    self._send(200, {"message": "pong"})
                    return
                if not self._authorized():
                    return
                parts = [p for p in path.split("/") if p]
                if method == "POST" and parts in (["generations"], ["generations", "video"]):
                    self._create_call()
                elif method == "POST" and parts == ["generations", "image"]:
                    self._create_call("image")
                elif method == "POST" and parts == ["generations", "image", "reframe"]:
                    self._create_call("reframe_image")
                elif (
                    method == "POST"
                    and parts[:2] == ["generations", "video"]
                    and parts[2:] in (["modify"], ["reframe"])
                ):
                    self._create_call(f"{parts[2]}_video")
                elif (
                    method == "POST"
                    and len(parts) == 3
                    and parts[0] == "generations"
                    and parts[2] in ("upscale", "audio")
                ):
                    self._create_call("upscale_video" if parts[2] == "upscale" else "add_audio", parts[1])
                elif method == "GET" and parts == ["generations"]:
                    if self._pre_fault("list") == "answered":
                        return
                    self._list_call()
                elif method == "GET" and parts == ["generations", "concepts", "list"]:
                    self._send(200, CONCEPTS)
                elif method == "GET" and parts == ["credits"]:
                    self._send(200, {"credit_balance": fake.credits})
                elif len(parts) == 2 and parts[0] == "generations" and method in ("GET", "DELETE"):
                    kind = "get" if method == "GET" else "delete"
                    if self._pre_fault(kind) == "answered":
                        return
                    with fake._lock:
                        gen = fake.generations.get(parts[1])
                        if gen is not None and method == "DELETE":
                            del fake.generations[parts[1]]
                            fake._save()
                        public = fake._public(fake._state(gen)) if gen and method == "GET" else None
                    if gen is None:
                        self._error(404, "Generation not found")
                    elif method == "DELETE":
                        self._send(204)
                    else:
                        self._send(200, public)
                else:
                    self._error(404, "Not Found")

            def _create_call(self, kind: str = "video", source: str | None = None) -> None:
                fault = self._pre_fault("create")
                if fault == "answered":
                    return
                try:
                    body = self._body()
                except ValueError as exc:
                    self._error(400, str(exc))
                    return
                with fake._lock:
                    # Luma checks the request first: a bad one is a 400 even when limited.
                    if kind == "image":
                        problem = fake._validate_image(body)
                    elif kind == "video":
                        problem = fake._validate(body)
                    else:
                        problem = fake._validate_other(kind, body, source)
                    bucket = "image" if kind in IMAGE_KINDS else "video"
                    now = fake.now()
                    times = fake._create_times[bucket]
                    while times and now - times[0] >= 60.0:
                        times.popleft()
                    # Photon and Ray have limits of their own (luma-api.md §2.6).
                    per_minute, most = (
                        (fake.images_per_minute, fake.max_active_images)
                        if bucket == "image"
                        else (fake.creates_per_minute, fake.max_active)
                    )
                    if problem:
                        limited = None
                    elif len(times) >= per_minute:
                        limited = f"Too many create requests: {per_minute} per minute"
                    elif fake._active(bucket) >= most:
                        limited = f"Too many concurrent generations: {most}"
                    else:
                        limited = None
                    auth = self.headers.get("Authorization", "")
                    gen = fake._create(body, auth, kind, source) if not limited and not problem else None
                    public = fake._public(gen) if gen else None
                if problem:
                    self._error(400, problem)
                elif limited:
                    self._error(429, limited, {"Retry-After": "1"})
                elif fault == "lost":
                    raise _Drop  # made (and billed) but never answered
                elif fault == "accepted_500":
                    self._error(500, "Internal Server Error")
                else:
                    self._send(201, public)

            def _list_call(self) -> None:
                q = dict(
                    re.findall(r"([a-z_]+)=([^&]*)", self.path.split("?", 1)[1] if "?" in self.path else "")
                )
                try:
                    limit, offset = int(q.get("limit", 100)), int(q.get("offset", 0))
                except ValueError:
                    self._error(400, "limit and offset must be whole numbers")
                    return
                if not 1 <= limit <= 1000 or offset < 0:
                    self._error(400, "limit must be from 1 to 1000 and offset 0 or more")
                    return
                with fake._lock:
                    gens = sorted(fake.generations.values(), key=lambda g: g["_t0"], reverse=True)
                    page = [fake._public(fake._state(g)) for g in gens[offset : offset + limit]]
                    count = len(gens)
                self._send(
                    200,
                    {
                        "generations": page,
                        "count": count,
                        "has_more": offset + limit < count,
                        "limit": limit,
                        "offset": offset,
                    },
                )

            def _asset(self, method: str, path: str) -> None:
                if path in fake.redirects:
                    self.send_response(302)
                    self.send_header("Location", fake.redirects[path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                m = re.fullmatch(r"/assets/([0-9a-f-]+)\.(mp4|jpg|png)", path)
                with fake._lock:
                    gen = fake.generations.get(m.group(1)) if m else None
                    ready = gen is not None and fake._state(gen)["state"] == "completed"
                if method not in ("GET", "HEAD") or not ready or m is None or gen is None:
                    self._error(404, "Not Found")
                    return
                if gen.get("generation_type") in IMAGE_KINDS:
                    picture = render_image(gen["id"], gen["request"])
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg" if m.group(2) == "jpg" else "image/png")
                    self.send_header("Content-Length", str(len(picture)))
                    self.end_headers()
                    if method == "GET":
                        self.wfile.write(picture)
                    return
                if m.group(2) == "jpg":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                fault = self._pre_fault("download") if method == "GET" else None
                if fault == "answered":
                    return
                data = fake.video_of(gen)
                etag = _etag(data)
                n = len(data)
                start, stop = 0, n  # the bytes sent: [start, stop)
                ranged = False
                asked = self.headers.get("Range", "")
                with fake._lock:
                    fake.ranges.append(asked or None)
                if_range = self.headers.get("If-Range")
                if asked and (if_range is None or if_range == etag):
                    rng = re.fullmatch(r"bytes=(\d*)-(\d*)", asked.strip())
                    if rng and (rng.group(1) or rng.group(2)):
                        a, b = rng.group(1), rng.group(2)
                        if a:
                            start, stop = int(a), min(n, int(b) + 1) if b else n
                        else:
                            start, stop = max(0, n - int(b)), n  # the last b bytes
                        if start >= n or stop <= start:
                            self.send_response(416)
                            self.send_header("Content-Range", f"bytes */{n}")
                            self.send_header("Content-Length", "0")
                            self.end_headers()
                            return
                        ranged = True
                if ranged:
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{n}")
                else:
                    start, stop = 0, n
                    self.send_response(200)
                body = data[start:stop]
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if method == "HEAD":
                    return
                if fault == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    raise _Drop
                if fake.trickle:
                    for i in range(0, len(body), fake.trickle):
                        self.wfile.write(body[i : i + fake.trickle])
                        self.wfile.flush()
                        time.sleep(0.05)
                    return
                self.wfile.write(body)

        return Handler


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up (as timeouts make them) are expected here, not errors."""

    request_queue_size = 256  # the default of 5 drops connections under a burst of jobs

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[Any] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Hang up on every open (keep-alive) connection, as a stopped server process does."""
        import socket

        with self._open_lock:
            open_now = list(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def _loopback(url: str) -> bool:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


def _read(video: str | Path | bytes) -> bytes:
    return video if isinstance(video, bytes) else Path(video).read_bytes()


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def _is_ref(ref: Any) -> bool:
    return isinstance(ref, dict) and isinstance(ref.get("url"), str) and bool(ref["url"])


IMAGE_SIZES = {"1:1": (512, 512), "16:9": (768, 432), "9:16": (432, 768), "4:3": (640, 480),
               "3:4": (480, 640), "21:9": (840, 360), "9:21": (360, 840)}  # fmt: skip


def render_image(gen_id: str, request: dict[str, Any]) -> bytes:
    """What a Photon generation of the fake shows: a small pixel-art figure, its colours and
    pose drawn from the generation id (so every generation differs), standing on a plain
    backdrop (green when the prompt asks for a green backdrop), upscaled to the aspect
    ratio's size; PNG, or JPEG for ``format="jpg"``."""
    import io

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(int(hashlib.sha256(gen_id.encode()).hexdigest()[:16], 16))
    green = "green" in (request.get("prompt") or "").lower()
    back = np.array([0, 255, 0] if green else rng.integers(150, 240, 3), np.uint8)
    cells = np.empty((24, 24, 3), np.uint8)
    cells[:] = back
    skin, shirt, legs, hair = (rng.integers(20, 200, 3).astype(np.uint8) for _ in range(4))
    arm = int(rng.integers(0, 3))
    cells[3:5, 9:15] = hair  # hair
    cells[5:9, 9:15] = skin  # head
    cells[6, 10], cells[6, 13] = (20, 20, 20), (20, 20, 20)  # eyes
    cells[9:16, 8:16] = shirt  # body
    cells[10 + arm : 14 + arm, 6:8] = skin  # arms, raised by the pose
    cells[10 + (2 - arm) : 14 + (2 - arm), 16:18] = skin
    cells[16:22, 9:11] = legs  # legs
    cells[16:22, 13:15] = legs
    w, h = IMAGE_SIZES.get(request.get("aspect_ratio") or "16:9", IMAGE_SIZES["16:9"])
    side = min(w, h)
    figure = Image.fromarray(cells).resize((side, side), Image.Resampling.NEAREST)
    canvas = Image.new("RGB", (w, h), tuple(int(v) for v in back))
    canvas.paste(figure, ((w - side) // 2, (h - side) // 2))
    buf = io.BytesIO()
    canvas.save(buf, "JPEG" if request.get("format") == "jpg" else "PNG", quality=92)
    return buf.getvalue()


def _applies(fault: str, kind: str) -> bool:
    if fault in ("lost", "accepted_500"):
        return kind == "create"
    if fault == "truncate":
        return kind == "download"
    return True


def _check_types(body: dict[str, Any]) -> str | None:
    """The type errors Luma answers 400 for (its validator names the field)."""
    for name in ("prompt", "model", "aspect_ratio", "resolution", "duration"):
        if name in body and body[name] is not None and not isinstance(body[name], str):
            return f"Invalid {name}: must be a string, got {type(body[name]).__name__}"
    if "loop" in body and not isinstance(body["loop"], bool):
        return "Invalid loop: must be a boolean"
    if "keyframes" in body and body["keyframes"] is not None:
        kf = body["keyframes"]
        if not isinstance(kf, dict):
            return "Invalid keyframes: must be an object with frame0 and/or frame1"
        for k, v in kf.items():
            if k not in ("frame0", "frame1"):
                return f"Invalid keyframes: unknown key {k!r}"
            if v is None:
                continue
            if not isinstance(v, dict) or v.get("type") not in ("image", "generation"):
                return f"Invalid keyframes.{k}: must be an image or generation object"
            field = "url" if v["type"] == "image" else "id"
            if not isinstance(v.get(field), str) or not v[field]:
                return f"Invalid keyframes.{k}.{field}: must be a string"
    if "concepts" in body and body["concepts"] is not None and not isinstance(body["concepts"], list):
        return "Invalid concepts: must be a list of {key} objects"
    return None

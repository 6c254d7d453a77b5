"""Many jobs against a faulty server, and a process killed mid-flight."""

import os
import signal
import subprocess
import sys
import textwrap

from conftest import TEST_KEY
from pixelnb import Sprite
from pixelnb.errors import LumaError, PixelnbError
from pixelnb.jobs import generate
from pixelnb.luma import PollPolicy
from pixelnb.testing import FakeLuma

PIXEL = {"size": 16, "colors": 4, "fps": 2}


def test_100_jobs_with_faults_on_a_fifth_of_calls(tmp_path, make_manager):
    with FakeLuma(
        api_key=TEST_KEY,
        queue_seconds=0.02,
        dream_seconds=0.1,
        fault_rate=0.2,
        slow_seconds=0.6,
        creates_per_minute=10_000,
        seed=7,
    ) as fake:
        m = make_manager(
            base_url=fake.base_url,
            poll=PollPolicy(0.02, 0.1),
            client_kw={"timeout": 0.3, "creates_per_minute": 10_000},
        )
        jobs = [generate(f"a little robot number {i}", manager=m, pixel=PIXEL) for i in range(100)]
        outcomes = []
        for j in jobs:
            try:
                outcomes.append(j.result(120))
            except PixelnbError as exc:
                outcomes.append(exc)
        faults = sum(fake.statuses[s] for s in (429, 500))
        by_prompt: dict[str, int] = {}
        for g in fake.generations.values():
            by_prompt[g["request"]["prompt"]] = by_prompt.get(g["request"]["prompt"], 0) + 1
    completed = sum(isinstance(o, Sprite) for o in outcomes)
    print(
        f"\n100 jobs: {completed} completed, {100 - completed} typed errors, {fake.creates} generations, "
        f"{faults} injected 429/500 answers among {len(fake.requests)} calls"
    )
    assert all(isinstance(o, (Sprite, LumaError)) for o in outcomes)
    assert max(by_prompt.values()) == 1, "a generation was created twice"
    assert fake.creates == len(by_prompt) <= 100
    for j, o in zip(jobs, outcomes, strict=True):
        gen = fake.generations.get(j.luma_id or "")
        if gen is not None and gen["state"] == "completed" and isinstance(o, Sprite):
            assert j.video_path is not None and j.video_path.is_file()
    assert completed >= 95, [str(o) for o in outcomes if not isinstance(o, Sprite)]
    assert faults > 20, "faults were really injected"


CHILD = textwrap.dedent(
    """
    import sys, time
    from pixelnb.jobs import JobManager, generate
    from pixelnb.luma import LumaClient, PollPolicy
    from pixelnb.store import JobStore
    client = LumaClient(sys.argv[3], base_url=sys.argv[2], retry_wait=0.02)
    m = JobManager(JobStore(sys.argv[1]), client=client, poll=PollPolicy(0.05, 0.1))
    jobs = [generate(f"a dragon {i}", manager=m, pixel={"size": 16, "fps": 2}) for i in range(5)]
    while not all(j.state == "dreaming" for j in jobs):
        time.sleep(0.02)
    print("dreaming", flush=True)
    time.sleep(600)
    """
)


def test_sigkill_while_dreaming_then_resume(tmp_path, make_manager):
    store = tmp_path / "jobs.sqlite3"
    with FakeLuma(api_key=TEST_KEY, queue_seconds=0.05, dream_seconds=3.0) as fake:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(store), fake.base_url, TEST_KEY],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "dreaming"
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
        assert fake.creates == 5
        m = make_manager(store, base_url=fake.base_url, poll=PollPolicy(0.05, 0.1), client_kw={"timeout": 30})
        jobs = m.resume()
        assert len(jobs) == 5
        sprites = [j.result(60) for j in jobs]
        assert all(isinstance(s, Sprite) for s in sprites)
        assert fake.creates == 5, "resuming created new generations"
        assert all(m.store.get(j.id).state == "completed" for j in jobs)

"""What a button press looks up, on a database of a million images (`python -m bench.lookups`).

A click on U1-U4, V1-V4 or reroll reads its set (`image_set`) and then an image (`image(id,
within=...)`); a reply in the thread reads the session and its current image; /history reads the
newest images of the thread or of the person. This builds the real schema (storage's own open and
migrations) holding 1,000,000 images in sets of 4, spread over many workspaces, threads and people,
then times a few thousand random look-ups of each through the real async repository methods and
prints p50 and p99.

    python -m bench.lookups                  # 1,000,000 images
    python -m bench.lookups --quick          # 50,000 images
    python -m bench.lookups --without-0008   # the same, without the indexes migration 0008 adds

Without 0008 every set look-up reads the whole images table, so use fewer look-ups there
(`--lookups 200`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bot.domain import SessionKey
from storage.db import Database
from storage.images import ImageRepo

SET_SIZE = 4
IMAGES_PER_SESSION = 40  # ten sets of four per thread, on average
WORKSPACES_PER_PLATFORM = 25
PLATFORMS = ("discord", "slack")
PEOPLE_PER_WORKSPACE = 40
VARIATION_EVERY = 5  # one set in five is variations of an earlier image (it has a parent)
PARAMS_JSON = json.dumps({"model": "gpt-image-2", "n": 4, "provider": "openai", "size": "1024x1024"})
PROMPTS = ("a lighthouse at dusk", "four kites over a beach", "a fox in the snow", "a harbour at night")
SEED = 20_240_601


def session_key(session: int) -> SessionKey:
    """Where the 0-based session number `session` is: its workspace, channel and thread."""
    workspace = session % (WORKSPACES_PER_PLATFORM * len(PLATFORMS))
    platform = PLATFORMS[workspace % len(PLATFORMS)]
    return SessionKey(platform, f"w{workspace}", f"c{session % 7}", f"t{session}")


@dataclass(frozen=True)
class World:
    """Who made which set where: enough to find any row again for a look-up."""

    sessions: int
    image_ids: list[str]  # image k of set s is image_ids[s * SET_SIZE + k]
    set_ids: list[str]
    session_of_set: list[int]  # 0-based session number of each set
    requester_of_set: list[str]

    @property
    def images(self) -> int:
        return len(self.image_ids)

    @property
    def sets(self) -> int:
        return len(self.set_ids)


def plan_world(images: int, rng: random.Random) -> World:
    sets = images // SET_SIZE
    sessions = max(1, images // IMAGES_PER_SESSION)
    # The bot's ids are 8 random hex characters; images and sets share the space (/show takes either).
    ids = [f"{n:08x}" for n in rng.sample(range(2**32), sets * SET_SIZE + sets)]
    session_of_set = [rng.randrange(sessions) for _ in range(sets)]
    # People make images in their own workspace, so /history mine finds ten there at once.
    requester_of_set = [
        f"{key.platform}:{key.workspace}-u{rng.randrange(PEOPLE_PER_WORKSPACE)}"
        for key in map(session_key, session_of_set)
    ]
    return World(sessions, ids[: sets * SET_SIZE], ids[sets * SET_SIZE :], session_of_set, requester_of_set)


# --- building the database ----------------------------------------------------------------------
def session_rows(world: World) -> Iterator[tuple[object, ...]]:
    """Each session points at its newest set, as after its last job."""
    last_set: dict[int, int] = {}
    for number, session in enumerate(world.session_of_set):
        last_set[session] = number
    for session in range(world.sessions):
        key = session_key(session)
        newest = last_set.get(session)
        current = world.image_ids[newest * SET_SIZE] if newest is not None else None
        last = world.set_ids[newest] if newest is not None else None
        yield (session + 1, key.platform, key.workspace, key.channel, key.thread, current, last, 0.0)


def set_rows(world: World) -> Iterator[tuple[object, ...]]:
    for number, set_id in enumerate(world.set_ids):
        prompt = PROMPTS[number % len(PROMPTS)]
        requester = world.requester_of_set[number]
        yield (
            set_id,
            world.session_of_set[number] + 1,
            f"j{number}",
            "imagine",
            prompt,
            requester,
            float(number),
        )


def image_rows(world: World) -> Iterator[tuple[object, ...]]:
    for number, set_id in enumerate(world.set_ids):
        session, requester = world.session_of_set[number] + 1, world.requester_of_set[number]
        prompt = PROMPTS[number % len(PROMPTS)]
        for index in range(SET_SIZE):
            row = number * SET_SIZE + index
            yield (
                world.image_ids[row], session, set_id, index + 1, f"{row:064x}", "image/png", 1024, 1024,
                "imagine", prompt, PARAMS_JSON, None, requester, 50, 4000, 0.04, None, f"j{number}", float(number),
            )  # fmt: skip


def parent_rows(world: World, rng: random.Random) -> Iterator[tuple[str, str, int]]:
    for number in range(VARIATION_EVERY, world.sets, VARIATION_EVERY):
        parent = world.image_ids[rng.randrange(number * SET_SIZE)]
        for index in range(SET_SIZE):
            yield (world.image_ids[number * SET_SIZE + index], parent, 0)


def indexes_of_0008() -> list[str]:
    """The names of the indexes migration 0008 creates (read from it, so they stay in step)."""
    sql = (resources.files("storage.migrations") / "0008_indexes.sql").read_text(encoding="utf-8")
    return re.findall(r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", sql, re.IGNORECASE)


def fill(path: Path, world: World, *, without_0008: bool) -> None:
    """Write the world in one transaction, straight through sqlite3: a million inserts one by one
    through the repositories would take far longer than the look-ups. The schema is the one
    storage's own migrations made."""
    rng = random.Random(SEED + 1)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        if without_0008:
            for name in indexes_of_0008():
                conn.execute(f"DROP INDEX {name}")  # a name from our own migration, not input
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO sessions (id, platform, workspace, channel, thread, current_image_id, last_set_id,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            session_rows(world),
        )
        conn.executemany(
            "INSERT INTO image_sets (id, session_id, job_id, operation, prompt, requester, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            set_rows(world),
        )
        conn.executemany(
            "INSERT INTO images (id, session_id, set_id, set_index, blob, mime, width, height, operation,"
            " prompt, params_json, revised_prompt, requester, input_tokens, output_tokens, cost_usd, label,"
            " job_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            image_rows(world),
        )
        conn.executemany(
            "INSERT INTO image_parents (image_id, parent_id, position) VALUES (?, ?, ?)",
            parent_rows(world, rng),
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


# --- timing look-ups ----------------------------------------------------------------------------
Lookup = Callable[[int], Awaitable[object]]  # one look-up of the n-th random pick


def check(ok: bool, what: str) -> None:
    """A look-up must find what it looked for: a fast wrong answer is no figure."""
    if not ok:
        raise RuntimeError(f"the bench database has no {what}")


def lookups(repo: ImageRepo, world: World, rng: random.Random) -> dict[str, Lookup]:
    """Each look-up a click or a reply makes, on a random set, image or thread."""

    def random_set() -> int:
        return rng.randrange(world.sets)

    async def image_set(_: int) -> object:
        number = random_set()
        found = await repo.image_set(world.set_ids[number], within=session_key(world.session_of_set[number]))
        check(found is not None and len(found.image_ids) == SET_SIZE, f"set {world.set_ids[number]}")
        return found

    async def image(_: int) -> object:
        number = random_set()
        image_id = world.image_ids[number * SET_SIZE + rng.randrange(SET_SIZE)]
        found = await repo.image(image_id, within=session_key(world.session_of_set[number]))
        check(found is not None, f"image {image_id}")
        return found

    async def current_image(_: int) -> object:
        key = session_key(world.session_of_set[random_set()])
        session = await repo.find_session(key)
        current = session.current_image_id if session is not None else None
        found = await repo.image(current or "", within=key)
        check(found is not None, f"current image in {key}")
        return found

    async def thread_history(_: int) -> object:
        key = session_key(world.session_of_set[random_set()])
        session = await repo.find_session(key)
        found = await repo.session_history(session.id, limit=10) if session is not None else []
        check(bool(found), f"history of {key}")
        return found

    async def my_history(_: int) -> object:
        number = random_set()
        key, person = session_key(world.session_of_set[number]), world.requester_of_set[number]
        found = await repo.requester_history(person, within=key, limit=10)
        check(bool(found), f"history of {person}")
        return found

    return {
        "image_set (U/V/reroll: the set)": image_set,
        "image(id, within) (a member, /show)": image,
        "current image (a reply: session + image)": current_image,
        "history of the thread (/history)": thread_history,
        "history of a person (/history mine)": my_history,
    }


async def timed(lookup: Lookup, count: int) -> list[float]:
    for warm in range(min(count, 50)):  # the first pages come from disk once; steady state is what counts
        await lookup(warm)
    times = []
    for n in range(count):
        start = time.perf_counter()
        await lookup(n)
        times.append(time.perf_counter() - start)
    return times


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def line(name: str, times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    return (
        f"  {name:<44} {len(ms):>5} look-ups: p50 {statistics.median(ms):7.3f} ms,"
        f" p99 {percentile(ms, 0.99):7.3f} ms"
    )


async def run(images: int, count: int, *, without_0008: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "imagebot.sqlite3"
        db = await Database.open(path)  # the real schema, migrated
        try:
            world = plan_world(images, random.Random(SEED))
            started = time.perf_counter()
            fill(path, world, without_0008=without_0008)
            built = time.perf_counter() - started
            indexes = "without the indexes of 0008" if without_0008 else "with the indexes of 0008"
            print(
                f"Look-ups on {world.images:,} images ({world.sets:,} sets, {world.sessions:,} threads,"
                f" {WORKSPACES_PER_PLATFORM * len(PLATFORMS)} workspaces), {indexes}; built in {built:.0f} s"
            )
            repo = ImageRepo(db)
            for name, lookup in lookups(repo, world, random.Random(SEED + 2)).items():
                print(line(name, await timed(lookup, count)), flush=True)
        finally:
            await db.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.lookups", description="Time the look-ups a button press makes."
    )
    parser.add_argument("--quick", action="store_true", help="50,000 images instead of 1,000,000")
    parser.add_argument("--lookups", type=int, default=3000, help="timed look-ups of each kind (3000)")
    parser.add_argument(
        "--without-0008", action="store_true", help="drop the indexes migration 0008 adds (to compare)"
    )
    args = parser.parse_args(argv)
    images = 50_000 if args.quick else 1_000_000
    asyncio.run(run(images, args.lookups, without_0008=args.without_0008))


if __name__ == "__main__":
    main()

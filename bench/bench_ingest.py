"""Import pipeline throughput and memory on SQLite and PostgreSQL, beside the scorer alone.

    python bench/bench_ingest.py [--sizes 100000,1000000] [--databases sqlite,postgresql]
                                 [--workers 0,auto] [--postgres-url URL] [--queue-latency]
                                 [--texts FILE] [--window N] [--write-jsonl FILE] [--default-gc]

For each database and size: a fresh database, then N synthetic brand mentions through
`Pipeline.ingest_many` in batches of 2,000 (what `listener import` does: match, score, store
with dedup, incident update, drafts, outreach steps), once per `--workers` value: 0 is
everything on one core; "auto" (the default setting) scores the next batch in a worker process
while this one stores. The default scorer alone is timed on the same
texts in the same run, before and after the pipeline (a shared machine's speed drifts), and
the pipeline must reach at least 60% of the mean of the two. Resident memory is
sampled at each quarter of the run: it must stay flat as the store grows. With
--queue-latency, `listener queue --json` (a real subprocess) and the store's queue query are
timed against the largest store. PostgreSQL uses --postgres-url or LISTENER_TEST_DATABASE_URL
(a fresh schema, dropped afterwards). With --window N it also prints each part's cost per N mentions, to
show what slows down as the store grows. Each run also prints the CPU seconds its parts used:
this process, the scoring workers, and a PostgreSQL server on this machine (its processes are
found by name in /proc), beside what the machine's cores could give in that time. With
--write-jsonl FILE it only writes the first --sizes mentions as a file for `listener import`
(to time the command itself) and stops. The garbage collector is set up as the `listener`
command sets it (listener/_process.py), and its collections and their time are printed;
--default-gc keeps CPython's settings instead, to compare.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import quote  # noqa: E402

from sqlalchemy import create_engine, text  # noqa: E402

from listener._process import settle_heap, tune_garbage_collector  # noqa: E402
from listener.app import make_listener  # noqa: E402
from listener.domain import Mention  # noqa: E402
from listener.scoring.base import Scorer  # noqa: E402
from listener.settings import validate_settings  # noqa: E402
from listener.store import DraftFilter  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
BATCH = 2000
START = datetime(2026, 10, 1, tzinfo=UTC)

BRANDS = ["O2", "@O2", "#O2", "Skyline Air", "@SkylineAir"]
OPENINGS = ["", "Hey {b}", "{b}", "So {b}", "Dear {b},", "Thanks {b}!", "Ugh {b}"]
BODIES = [
    "still on hold after {n} hours, this is ridiculous",
    "thanks for sorting my refund so quickly, great service",
    "I keep getting spam texts from you and they won't stop",
    "is the app down? it won't load since {n} this morning",
    "how do I change the address on my account?",
    "my flight was delayed {n} hours and nobody at the gate knew anything",
    "charged me twice for order #{n}, still no reply from support",
    "love the new update, works perfectly",
    "no signal in the whole of north London for {n} hours now",
    "lost my bag on flight {n}, three calls and still no news",
    "the new plan is cheaper and the coverage is better, switching was easy",
    "reports say {b} confirms an outage affecting {n} thousand customers",
    "why is my bill £{n} higher than last month? nobody explains",
    "crew were lovely on the {n}:00 from Madrid, thank you",
]
TAILS = ["", " #fail", " 😡", " 🙏", " please help", " again.", " https://t.co/x{n}"]


def synthetic_texts(seed: int = 7) -> Iterator[str]:
    rng = random.Random(seed)
    while True:
        brand = rng.choice(BRANDS)
        n = rng.randint(2, 95)
        opening = rng.choice(OPENINGS).format(b=brand)
        body = rng.choice(BODIES).format(b=brand, n=n)
        if not opening and brand not in body:
            body = f"{body} cc {brand}"
        if rng.random() < 0.08:  # some mentions are about something else
            body = body.replace(brand, "the airline")
            opening = ""
        yield f"{opening} {body}{rng.choice(TAILS).format(n=n)}".strip()


def file_texts(path: Path) -> Iterator[str]:
    lines = [t for t in path.read_text(encoding="utf-8").splitlines() if t.strip()]
    rng = random.Random(7)
    while True:
        yield f"{rng.choice(BRANDS)} {rng.choice(lines)}"


def mentions(texts: Iterator[str], count: int, run: str) -> Iterator[list[Mention]]:
    batch: list[Mention] = []
    for i in range(count):
        at = START + timedelta(seconds=i * 2.6)
        batch.append(
            Mention(
                source="import",
                external_id=f"{run}-{i}",
                text=next(texts),
                author=f"user{i % 50_000}",
                author_name=f"User {i % 50_000}",
                url=f"https://x.example/user{i % 50_000}/status/{run}{i}",
                published_at=at,
                fetched_at=at,
                source_kind="x",
            )
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


class TimedStep:
    """An after-store step with a stopwatch, to show where bookkeeping time goes."""

    def __init__(self, step: Any) -> None:
        self.step = step
        self.name = str(step.name)
        self.seconds = 0.0

    def __call__(self, stored: Any, now: datetime) -> None:
        started = time.perf_counter()
        try:
            self.step(stored, now)
        finally:
            self.seconds += time.perf_counter() - started


class Stopwatch:
    """Delegates to `target`, timing the named methods (the pipeline's parts, unchanged)."""

    def __init__(self, target: Any, *methods: str) -> None:
        self.target = target
        self.methods = set(methods)
        self.seconds = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.target(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.target, name)
        if name not in self.methods:
            return value

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


def part_seconds(watches: dict[str, Stopwatch], steps: list[TimedStep]) -> dict[str, float]:
    """Seconds spent so far in each timed part of the pipeline and each after-store step."""
    return {
        **{name: watch.seconds for name, watch in watches.items()},
        **{step.name: step.seconds for step in steps},
    }


class Windows:
    """With --window N: the rate and µs a mention of each part, per N mentions stored, to
    show which part slows down as the store grows. Scoring runs one batch (2,000) ahead of
    storing, so make windows many batches wide."""

    def __init__(
        self, size: int, watches: dict[str, Stopwatch], steps: list[TimedStep], started: float
    ) -> None:
        self.size = size
        self.watches = watches
        self.steps = steps
        self.last_at = started
        self.last_done = 0
        self.last = part_seconds(watches, steps)

    def passed(self, before: int, done: int) -> None:
        if not self.size or done // self.size == before // self.size:
            return
        now, seconds, count = (
            time.perf_counter(),
            part_seconds(self.watches, self.steps),
            done - self.last_done,
        )
        parts = ", ".join(
            f"{name} {(seconds[name] - self.last[name]) / count * 1e6:.0f}" for name in seconds
        )
        print(
            f"  {self.last_done:>9,} stored before: {count / (now - self.last_at):,.0f} /s; "
            f"µs a mention: {parts}",
            flush=True,
        )
        self.last_at, self.last_done, self.last = now, done, seconds


class GcClock:
    """Collections CPython's garbage collector ran in this process, and the seconds they took."""

    def __init__(self) -> None:
        self.collections = 0
        self.seconds = 0.0
        self._started = 0.0
        gc.callbacks.append(self._observe)

    def _observe(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.collections += 1
            self.seconds += time.perf_counter() - self._started

    def reading(self) -> tuple[int, float]:
        return self.collections, self.seconds


GC_CLOCK = GcClock()


def rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int, *, reaped: bool = False) -> float:
    """CPU seconds of a live process (with `reaped`, also of the children it has waited for)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return 0.0
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + (cutime + cstime if reaped else 0)) / _TICK


def cpu_split(exclude: frozenset[int] = frozenset()) -> dict[str, float]:
    """CPU seconds so far of this process, its live workers (child processes but those in
    `exclude`), and the local PostgreSQL server (every process named postgres, with the
    backends its postmaster has reaped): on a machine whose cores the server shares, what it
    costs shows beside what the pipeline costs."""
    this = sum(os.times()[:2])
    workers = sum(
        _cpu_of(child.pid or 0)
        for child in multiprocessing.active_children()
        if child.pid not in exclude
    )
    server = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if name == "postgres":
            server += _cpu_of(int(entry.name), reaped=True)
    return {"this process": this, "workers": workers, "database server": server}


def settings_for(url: str, workdir: Path, workers: str = "0") -> dict[str, object]:
    return {
        "database": {"url": url},
        "scoring": {"workers": workers if workers == "auto" else int(workers)},
        "brands": [
            {"name": "O2", "terms": ["O2", "@O2", "#O2"], "support_url": "https://o2.example"},
            {"name": "Skyline Air", "terms": ["Skyline Air", "@SkylineAir"]},
        ],
        "outreach": {"templates_dir": str(REPO / "templates")},
        "web": {"enabled": False},
        "base_dir": str(workdir),
    }


def _nothing_to_drop() -> None:
    """A SQLite file's temporary directory is left for the operating system."""


def fresh_postgres(base: str) -> tuple[str, Callable[[], None]]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}", drop


def scorer_rate_of(scorer: Scorer, texts: Callable[[], Iterator[str]], sample: int) -> float:
    """Texts a second the scorer alone gets through, in batches as the pipeline gives them."""
    batches = list(mentions(texts(), sample, "scorer"))
    started = time.perf_counter()
    for batch in batches:
        scorer.score_batch(batch)
    return sample / (time.perf_counter() - started)


def run_one(
    database: str,
    url: str,
    size: int,
    workdir: Path,
    texts: Callable[[], Iterator[str]],
    workers: str = "0",
    window: int = 0,
) -> dict[str, object]:
    settings = validate_settings(settings_for(url, workdir, workers))
    listener = make_listener(settings)
    settle_heap()  # as `listener import` does once the service is built
    try:
        if listener.pipeline.workers is not None:  # started before timing anything
            listener.pipeline.workers.wait_until_ready()
        # The scorer alone, on the same kind of texts, in the same process and run: before
        # and again after the pipeline, since a shared machine's speed drifts during a run
        # over a long run, and the share is taken against the mean of the two.
        scorer = listener.pipeline.scorer
        sample = min(size, 60_000)
        scorer_before = scorer_rate_of(scorer, texts, sample)

        pipeline = listener.pipeline
        steps = [TimedStep(step) for step in pipeline.after_store]
        pipeline.after_store = list(steps)
        watches = {
            "score": Stopwatch(pipeline.scorer, "score_batch"),
            "store": Stopwatch(pipeline.store, "ingest", "ingest_group", "known_external_ids"),
        }
        pipeline.scorer = watches["score"]
        if pipeline.workers is not None:
            watches["score (waiting for workers)"] = Stopwatch(pipeline.workers, "result")
            pipeline.workers = watches["score (waiting for workers)"]  # type: ignore[assignment]
        pipeline.store = watches["store"]  # type: ignore[assignment]
        if pipeline.drafter is not None:
            watches["draft"] = Stopwatch(pipeline.drafter, "plan")
            pipeline.drafter = watches["draft"]  # type: ignore[assignment]
        if pipeline.draft_filter is not None:
            watches["draft filter"] = Stopwatch(pipeline.draft_filter, "__call__")
            pipeline.draft_filter = watches["draft filter"]
        memory: list[float] = []
        quarter = max(size // 4, 1)
        new = drafts = 0
        done = 0
        cpu_before = cpu_split()
        gc_before = GC_CLOCK.reading()
        started = time.perf_counter()
        windows = Windows(window, watches, steps, started)
        for report in listener.pipeline.ingest_many(mentions(texts(), size, "m"), actor="import"):
            new += report.new
            drafts += report.drafts
            before, done = done, done + report.received
            if done // quarter > before // quarter:
                memory.append(rss_mib())
            windows.passed(before, done)
        elapsed = time.perf_counter() - started
        cpu = {k: v - cpu_before[k] for k, v in cpu_split().items()}
        gc_after = GC_CLOCK.reading()
        stored = listener.store.count_mentions()
        scorer_after = scorer_rate_of(scorer, texts, sample)
    finally:
        listener.close()
        # This run's listener was frozen with the heap; thaw it so its cycles can be
        # collected, or each run in this process would keep the last one's for good.
        gc.unfreeze()
        gc.collect()
    rate = size / elapsed
    scorer_rate = (scorer_before + scorer_after) / 2
    return {
        "steps": part_seconds(watches, steps),
        "database": database,
        "workers": workers,
        "size": size,
        "seconds": elapsed,
        "rate": rate,
        "scorer_rate": scorer_rate,
        "scorer_before_after": (scorer_before, scorer_after),
        "share": rate / scorer_rate,
        "stored": stored,
        "new": new,
        "drafts": drafts,
        "memory": memory,
        "cpu": cpu,
        "gc": (gc_after[0] - gc_before[0], gc_after[1] - gc_before[1]),
    }


def queue_latency(url: str, workdir: Path) -> dict[str, float]:
    settings_file = workdir / "settings.toml"
    raw = settings_for(url, workdir)
    lines = [
        "[database]",
        f"url = {json.dumps(url)}",
        "[web]",
        "enabled = false",
        "[outreach]",
        f"templates_dir = {json.dumps(str(REPO / 'templates'))}",
        "[[brands]]",
        'name = "O2"',
        'terms = ["O2", "@O2", "#O2"]',
        "[[brands]]",
        'name = "Skyline Air"',
        'terms = ["Skyline Air", "@SkylineAir"]',
    ]
    settings_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {**os.environ, "LISTENER_CONFIG": str(settings_file)}
    env.pop("LISTENER_DATABASE_URL", None)
    cli: list[float] = []
    for _ in range(3):
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "listener", "queue", "--json", "--limit", "50"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        cli.append(time.perf_counter() - started)
        assert len(json.loads(result.stdout)) == 50, result.stdout[:200]
    listener = make_listener(validate_settings(raw))
    try:
        query: list[float] = []
        for _ in range(5):
            started = time.perf_counter()
            listener.store.drafts(DraftFilter(status="pending"), limit=50)
            listener.store.count_drafts(DraftFilter(status="pending"))
            query.append(time.perf_counter() - started)
    finally:
        listener.close()
    return {"cli": min(cli), "query": min(query)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default=os.environ.get("LISTENER_TEST_DATABASE_URL", ""))
    parser.add_argument("--queue-latency", action="store_true")
    parser.add_argument(
        "--workers", default="0,auto", help="scoring.workers values to run, comma-separated"
    )
    parser.add_argument("--texts", type=Path, help="one text per line, brand terms are added")
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="keep CPython's garbage collector settings instead of the service's (to compare)",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=0,
        metavar="N",
        help="also print the rate and each part's µs a mention per N mentions stored",
    )
    parser.add_argument(
        "--write-jsonl",
        type=Path,
        metavar="FILE",
        help="only write the first --sizes mentions as `listener import` JSONL, and stop",
    )
    args = parser.parse_args()
    if not args.default_gc:
        tune_garbage_collector()  # as the `listener` command does first
    sizes = [int(s) for s in args.sizes.split(",") if s]

    def texts() -> Iterator[str]:
        return file_texts(args.texts) if args.texts else synthetic_texts()

    if args.write_jsonl:
        write_jsonl(args.write_jsonl, mentions(texts(), sizes[0], "m"))
        print(f"wrote {sizes[0]:,} mentions to {args.write_jsonl}")
        return

    results = []
    latencies: dict[str, dict[str, float]] = {}
    for database in [d for d in args.databases.split(",") if d]:
        if database == "postgresql" and not args.postgres_url:
            print("postgresql: skipped (give --postgres-url or LISTENER_TEST_DATABASE_URL)")
            continue
        for size, workers in [(n, w) for n in sizes for w in args.workers.split(",") if w]:
            workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
            if database == "sqlite":
                url, drop = f"sqlite:///{workdir / 'listener.db'}", _nothing_to_drop
            else:
                url, drop = fresh_postgres(args.postgres_url)
            try:
                result = run_one(database, url, size, workdir, texts, workers, args.window)
                results.append(result)
                print_row(result, flush=True)
                if args.queue_latency and size == max(sizes):
                    latencies[database] = queue_latency(url, workdir)
                    print(f"  queue latency {latencies[database]}", flush=True)
            finally:
                drop()
    print()
    print(
        f"{'database':<11}{'workers':>8}{'mentions':>10}{'seconds':>9}{'pipeline/s':>12}"
        f"{'scorer/s':>10}{'share':>7}{'drafts':>9}  resident MiB at 25/50/75/100%"
    )
    for result in results:
        print_row(result)
    for database, latency in latencies.items():
        print(
            f"{database}: `listener queue --json --limit 50` {latency['cli'] * 1000:.0f} ms "
            f"(whole process), queue query {latency['query'] * 1000:.1f} ms"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"peak resident memory of the whole run: {peak:.0f} MiB (largest worker {worker:.0f} MiB)"
    )


def write_jsonl(path: Path, batches: Iterator[list[Mention]]) -> None:
    """The same mentions as a file for `listener import` (its documented fields)."""
    with path.open("w", encoding="utf-8") as out:
        for batch in batches:
            for m in batch:
                row = {
                    "source": m.source,
                    "external_id": m.external_id,
                    "text": m.text,
                    "author": m.author,
                    "author_name": m.author_name,
                    "url": m.url,
                    "published_at": m.published_at.isoformat() if m.published_at else None,
                }
                out.write(json.dumps(row, ensure_ascii=False) + "\n")


def print_row(result: dict[str, object], *, flush: bool = False) -> None:
    memory = "/".join(f"{m:.0f}" for m in result["memory"])  # type: ignore[attr-defined]
    print(
        f"{result['database']:<11}{result['workers']:>8}{result['size']:>10,}"
        f"{result['seconds']:>9.1f}"
        f"{result['rate']:>12,.0f}{result['scorer_rate']:>10,.0f}{result['share']:>7.0%}"
        f"{result['drafts']:>9,}  {memory}",
        flush=flush,
    )
    scorer_rates = result["scorer_before_after"]
    assert isinstance(scorer_rates, tuple)
    before, after = scorer_rates
    print(
        f"    scorer alone before / after the run: {before:,.0f} / {after:,.0f} texts/s "
        "(the share is against their mean)",
        flush=flush,
    )
    steps = result["steps"]
    assert isinstance(steps, dict)
    seconds = float(result["seconds"])  # type: ignore[arg-type]
    # On PostgreSQL storing and the after-store steps run on threads of their own, beside
    # reading and matching, so the shares of wall time can add up to more than 100%.
    print(
        "    share of pipeline time: "
        + ", ".join(f"{name} {value / seconds:.0%}" for name, value in steps.items()),
        flush=flush,
    )
    cpu = result["cpu"]
    assert isinstance(cpu, dict)
    cores = len(os.sched_getaffinity(0))
    print(
        f"    CPU seconds ({cores} cores x {seconds:.1f} s = {cores * seconds:.0f} available): "
        + ", ".join(f"{name} {value:.1f}" for name, value in cpu.items()),
        flush=flush,
    )
    gc_reading = result["gc"]
    assert isinstance(gc_reading, tuple)
    collections, gc_seconds = gc_reading
    print(
        f"    garbage collector in this process: {collections:,} collections, {gc_seconds:.2f} s",
        flush=flush,
    )


if __name__ == "__main__":
    main()

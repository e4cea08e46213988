"""What people-and-organisations recognition (EnrichSettings.people_and_orgs, the `ner` extra) adds to prepare().

On the fixture corpus (48 pages, 7 languages; the model runs on the English ones only). Three workloads in
this one process, taking turns round by round so the machine's load hits them alike: plain
trafilatura.extract (the baseline of the pipeline target), prepare() with the setting off (what the
1.5x target in bench/pipeline_throughput.py measures) and prepare() with it on. Prints CPU ms per
article (median of rounds) and the ratios to the baseline measured in the same run.

    .venv/bin/python bench/people_cost.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import trafilatura

    from bench.score_corpus import load_corpus
    from ingest.jobs import ArticleJob, SourceSnapshot
    from workers.errors import PermanentError
    from workers.people import model_available
    from workers.pipeline import prepare

    if not model_available():
        sys.exit("people_cost: the ner extra is not installed (pip install '.[ner]')")
    jobs = [
        ArticleJob(
            url=page.url, final_url=page.url, fetched_at=datetime.now(UTC), status=200,
            html=page.page.read_text(encoding="utf-8"),
            source=SourceSnapshot(name="bench", kind="rss", url=f"https://{page.url.split('/')[2]}/feed.xml"),
        )
        for page in load_corpus()
    ]
    english = 0

    def prepare_all(people_and_orgs: bool) -> Callable[[], None]:
        def run() -> None:
            for job in jobs:
                try:
                    prepare(job, people_and_orgs)
                except PermanentError:
                    pass

        return run

    workloads: dict[str, Callable[[], None]] = {
        "trafilatura.extract (base)": lambda: [trafilatura.extract(job.html) for job in jobs] and None,
        "prepare, people_and_orgs off": prepare_all(False),
        "prepare, people_and_orgs on": prepare_all(True),
    }
    for work in workloads.values():
        work()  # warm-up: imports and model loading are not per-article costs
    for job in jobs:
        try:
            english += prepare(job).fields["language"] == "en"
        except PermanentError:
            pass
    per_article: dict[str, list[float]] = {name: [] for name in workloads}
    for _ in range(args.rounds):
        for name, work in workloads.items():
            start = time.process_time()
            work()
            per_article[name].append((time.process_time() - start) * 1000 / len(jobs))

    base = statistics.median(per_article["trafilatura.extract (base)"])
    off = statistics.median(per_article["prepare, people_and_orgs off"])
    print(f"{len(jobs)} pages ({english} English), {args.rounds} rounds, CPU ms per article (median)")
    for name, figures in per_article.items():
        ms = statistics.median(figures)
        print(f"  {name:32} {ms:7.2f} ms  {ms / base:5.2f}x base")
    on = statistics.median(per_article["prepare, people_and_orgs on"])
    print(f"  people_and_orgs adds {on - off:.2f} ms per article ({(on - off) * len(jobs) / max(english, 1):.2f} ms "
          f"per English article), {on / off:.2f}x prepare with it off")


if __name__ == "__main__":
    main()

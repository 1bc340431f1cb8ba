"""What the quiz costs a page run: the server time of a rerun with the quiz off (the baseline), while predicting,
and after the reveal, on the Divergences and "Training a generator" pages.

    python -m bench.app_quiz [--repeats 15]

Streamlit's AppTest runs the real page script in this process, so a rerun's wall time is the server's time for it
(script, widget state, element serialization; no network, no browser). Every cache is warm after the first run,
and the quiz trains nothing: it scores the sweep or run the page already shows. Needs the shipped results/.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
HOME = str(REPO_ROOT / "demo" / "Home.py")
PAGES = {"Divergences": "views/divergences.py", "Training a generator": "views/dynamics.py"}


def rerun_ms(page: str, quiz: bool, reveal: bool, repeats: int) -> float:
    """Median wall time (ms) of `repeats` reruns of `page` in one session, after one warm-up run."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(HOME, default_timeout=300)
    at.switch_page(page)
    if quiz:
        at.query_params["quiz"] = "1"
    at.run()
    if reveal:
        at.main.get_by_key("quiz_reveal").click().run()
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].value}")
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    if not (REPO_ROOT / "results" / "divergences.json").exists():
        sys.exit("needs the shipped results/ (results/divergences.json)")
    print(f"median server time of a rerun, {args.repeats} reruns each (AppTest, shipped results/)\n")
    print("| page | quiz off (baseline) | quiz on, predicting | quiz on, revealed | revealed / off |")
    print("|---|---|---|---|---|")
    for title, page in PAGES.items():
        off = rerun_ms(page, quiz=False, reveal=False, repeats=args.repeats)
        predicting = rerun_ms(page, quiz=True, reveal=False, repeats=args.repeats)
        revealed = rerun_ms(page, quiz=True, reveal=True, repeats=args.repeats)
        print(f"| {title} | {off:.0f} ms | {predicting:.0f} ms | {revealed:.0f} ms | {revealed / off:.2f} |")


if __name__ == "__main__":
    main()

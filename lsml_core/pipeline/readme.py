"""The README's numbers, generated from the study's answer committed under `results/`: the section on what the
study says (each profile's verdicts and what produced them) and the one on what the demo says (its headline
figure, regime sentences and effects). The front page rewrites them whenever it renders the repository's own
results folder, and a test fails when the README holds other numbers than the committed answer.

A generated section lies between `<!-- results: NAME -->` and `<!-- results: end -->`; the text around it is
written by hand and holds no result.
"""

import re
from pathlib import Path

from lsml_core import layout
from lsml_core.answers import Answer
from lsml_core.front_page import answers, missing_text
from lsml_core.pipeline.provenance import provenance_text
from lsml_core.profiles import CONFIG_DIR
from lsml_core.records import REPO_ROOT, atomic_write_text, read_json

README = REPO_ROOT / "README.md"
RESULTS = REPO_ROOT / "results"
DEMO = "demo"
END = "<!-- results: end -->"


def begin(name: str) -> str:
    return f"<!-- results: {name} -->"


def provenance_of(results_dir: Path, profile: str) -> str:
    """What produced a profile's answer, as one sentence (or that it was not recorded)."""
    path = results_dir / profile / layout.PROVENANCE
    return provenance_text(read_json(path)) if path.is_file() else "what produced it was not recorded"


def verdict_counts(answer: Answer) -> str:
    """`3 better, 1 worse, 10 no clear difference (of 14 effects)`."""
    verdicts = [e.verdict for e in answer.effects if not e.is_baseline]
    kinds = ("better", "worse", "no clear difference")
    counted = ", ".join(f"{verdicts.count(kind)} {kind}" for kind in kinds)
    return f"{counted} (of {len(verdicts)} effects)"


def study_section(results_dir: Path, config_dir: Path = CONFIG_DIR) -> str:
    """Each profile answered in `results_dir`: its regime, its verdicts and what produced it; then the missing ones."""
    found, problems = answers(results_dir)
    if not found:
        opening = "No profile's answer is in `results/` yet: `./run_all.sh --all` writes the study's answer there."
    else:
        page = f"results/{layout.markdown(layout.STUDY_PAGE)}"
        opening = f"The study's answer as committed in `results/` ([the front page]({page}): each profile's effects "
        opening += "with their intervals, the regime axis, THEIR numbers beside ours), per profile:"
    items = [
        f"- **{answer.profile}** ({answer.title}; {answer.regime_text()}): {verdict_counts(answer)}; "
        f"{provenance_of(results_dir, answer.profile)}."
        for answer in found
    ] + [f"- {problem}" for problem in problems]
    return "\n\n".join(part for part in (opening, "\n".join(items), missing_text(found, config_dir)) if part)


def effects_table(answer: Answer) -> str:
    """The demo's effects as a Markdown table: model, arm, then each metric's difference and verdict."""
    frame = answer.effects_frame()
    frame = frame[~frame.is_baseline.astype(bool)]  # an answer without effects: an empty object column
    metrics = list(dict.fromkeys(frame.metric))
    rows = ["| model | arm | " + " | ".join(metrics) + " |", "|---|---|" + "---|" * len(metrics)]
    for (model, arm), group in frame.groupby(["model", "arm"], sort=False):
        cells = {row.metric: f"{row.text} ({row.verdict})" for row in group.itertuples()}
        rows.append(f"| {model} | {arm} | " + " | ".join(cells.get(m, "") for m in metrics) + " |")
    return "\n".join(rows)


def demo_section(results_dir: Path) -> str:
    """The demo's headline figure, what produced it, its regime sentences and its effects."""
    found = {answer.profile: answer for answer in answers(results_dir)[0]}
    if DEMO not in found:
        return "The demo's answer is not in `results/` yet: `./run_all.sh` writes it to `results/demo/`."
    answer = found[DEMO]
    figure = f"results/{DEMO}/{layout.HEADLINE_FIGURE}"
    caption = f"The `demo` profile's headline figure and numbers, from `results/{DEMO}/` "
    caption += f"({provenance_of(results_dir, DEMO)}). {answer.caveat}"
    if {e.seeds for e in answer.effects if not e.is_baseline} == {1}:
        caption += " One seed: the intervals cover the sampling of images, not training randomness."
    return "\n".join(
        [
            f"![The demo profile's headline: each arm minus its baseline with its 95% interval]({figure})",
            "",
            f"*{caption.strip()}*",
            "",
            *(f"- {reading}" for reading in answer.readings),
            "",
            f"Each arm minus its baseline, {answer.interval}:",
            "",
            effects_table(answer),
        ]
    )


def sections(results_dir: Path = RESULTS, config_dir: Path = CONFIG_DIR) -> dict[str, str]:
    """Each generated section of the README by name, from the answers in `results_dir`."""
    return {"study": study_section(results_dir, config_dir), DEMO: demo_section(results_dir)}


def with_sections(text: str, generated: dict[str, str]) -> str:
    """The README's text with each generated section replaced; ValueError naming a section without its markers."""
    for name, body in generated.items():
        pattern = re.compile(re.escape(begin(name)) + r"\n.*?" + re.escape(END), flags=re.S)
        if not pattern.search(text):
            raise ValueError(f"README.md has no section `{begin(name)}` ... `{END}` for the generated {name} text")
        text = pattern.sub(lambda _: f"{begin(name)}\n{body}\n{END}", text, count=1)
    return text


def update_readme(results_dir: Path, readme: Path = README) -> None:
    """Rewrite the README's generated sections, when `results_dir` is the repository's own results folder."""
    if Path(results_dir).resolve() != RESULTS.resolve() or not readme.is_file():
        return
    text = readme.read_text()
    updated = with_sections(text, sections(results_dir))
    if updated != text:
        atomic_write_text(readme, updated)

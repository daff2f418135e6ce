"""`run_all.sh --changes`: which verdicts of a results folder differ from the study's answer committed in git
(`results/<profile>/answer.json` at HEAD), not only which digits: a reproduction on another machine, thread count or
revision reads the same answers, or says where it does not.
"""

import subprocess
from pathlib import Path

from lsml_core import layout
from lsml_core.answers import Answer, Effect, answer_from_json, read_answer
from lsml_core.records import REPO_ROOT


def committed_answer(profile: str, repo: Path = REPO_ROOT) -> Answer | None:
    """A profile's answer as committed at HEAD of the checkout; None when none is; ValueError when it does not
    read."""
    path = f"results/{profile}/{layout.ANSWER}"
    shown = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=repo, capture_output=True, text=True)
    if shown.returncode != 0:
        return None
    try:
        return answer_from_json(shown.stdout)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{path} as committed at HEAD does not read as a profile's answer ({exc})") from exc


def effect_key(effect: Effect) -> tuple[str, str, str]:
    return effect.model, effect.arm, effect.metric


def verdict_changes(committed: Answer, now: Answer) -> list[str]:
    """One line per effect whose verdict differs (or that one answer lacks), then the regime if it moved (the profile's or a baseline's)."""
    before = {effect_key(e): e for e in committed.effects if not e.is_baseline}
    after = {effect_key(e): e for e in now.effects if not e.is_baseline}
    lines = []
    for key in [*before, *(k for k in after if k not in before)]:
        name = " ".join(part for part in key if part)
        old, new = before.get(key), after.get(key)
        if old is None or new is None:
            lines.append(f"{name}: {'only here' if old is None else 'not here'}")
        elif old.verdict != new.verdict:
            lines.append(f"{name}: {old.verdict} -> {new.verdict} ({old.text} committed, {new.text} here)")
    if committed.regime_text() != now.regime_text():
        lines.append(f"regime: {committed.regime_text()} -> {now.regime_text()}")
    return lines


def list_changes(results_dir: Path, say=print, repo: Path = REPO_ROOT) -> int:
    """Say, per profile answered in `results_dir`, the verdicts that differ from the committed answer; the number of
    profiles with a difference (one without a committed answer counts as none, and is said)."""
    differing = 0
    for path in sorted(Path(results_dir).glob(f"*/{layout.ANSWER}")):
        profile = path.parent.name
        try:
            committed, now = committed_answer(profile, repo), read_answer(path.parent)
        except ValueError as exc:
            say(f"{profile}: {exc}")
            differing += 1
            continue
        if committed is None:
            say(f"{profile}: no committed answer to compare with")
            continue
        lines = verdict_changes(committed, now)
        differing += bool(lines)
        say(f"{profile}: " + ("the committed verdicts, to the last one" if not lines else f"{len(lines)} changed"))
        for line in lines:
            say(f"  {line}")
    return differing

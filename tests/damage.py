"""Damage from outside a finished profile: every kind of file a run folder holds deleted and truncated."""

from pathlib import Path

WAYS = ("delete", "truncate")


def kinds(notebook: str, how: str) -> tuple[str, ...]:
    """The kinds of file a run holds (metrics, predictions, best model, last checkpoint, history, configuration,
    its executed notebook: the HTML when deleted, the notebook itself when truncated)."""
    rendered = f"{notebook}.html" if how == "delete" else f"{notebook}.ipynb"
    return ("metrics.json", "predictions_test.csv", "model_best.pt", "checkpoint_last.pt", "history.csv",
            "config.json", rendered)  # fmt: skip


def damage_every_kind(runs_dir: Path, notebook: str, order: list[str] | None = None) -> dict[str, list[str]]:
    """Each kind of file deleted once and truncated once, dealt round the runs in `order` (default: name order),
    kind by kind, deleted then truncated (so the two damages of a kind fall on two runs); run -> its damaged files."""
    runs = order or sorted(p.name for p in Path(runs_dir).iterdir())
    damages = [(kinds(notebook, how)[k], how) for k in range(len(kinds(notebook, WAYS[0]))) for how in WAYS]
    dealt: dict[str, list[str]] = {}
    for i, (name, how) in enumerate(damages):
        run = runs[i % len(runs)]
        path = Path(runs_dir) / run / name
        if how == "delete":
            path.unlink()
        else:
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        dealt.setdefault(run, []).append(name)
    return dealt


def differing_results(runs_dir: Path, reference: Path) -> list[str]:
    """Of the reference's metrics and predictions files (run/name), those missing or different in `runs_dir`."""
    names = sorted(Path(reference).glob("*/metrics.json")) + sorted(Path(reference).glob("*/predictions_*.csv"))
    assert names, f"no metrics or predictions in {reference}"
    relative = [path.relative_to(reference) for path in names]
    return [str(name) for name in relative if not same_bytes(Path(runs_dir) / name, Path(reference) / name)]


def same_bytes(path: Path, reference: Path) -> bool:
    """Whether `path` is a file holding the reference's bytes."""
    return path.is_file() and path.read_bytes() == reference.read_bytes()


def listed_as_damaged(stdout: str, run: str) -> bool:
    """Whether --verify's line for `run` says it (or the teacher it learnt from) is damaged."""
    return any(line.startswith(f"{run}: ") and "damaged" in line for line in stdout.splitlines())

"""Where a profile's answer comes from (`provenance.json`, beside `answer.json`): the git revisions, CPU threads,
machines and devices of the runs behind it, and the revision whose notebooks wrote the report. A committed answer
names what produced it; another machine, thread count or revision gives other, equally valid numbers."""

from pathlib import Path

from lsml_core import layout
from lsml_core.records import REPO_ROOT, git_revision, read_json, write_json

NOT_RECORDED = "not recorded"


def provenance(out: Path, report_revision: str) -> dict:
    """What produced the runs of a profile folder (each value the distinct ones over its runs)."""
    records = [read_json(path) for path in sorted((out / layout.RUNS).glob(f"*/{layout.ENVIRONMENT}"))]

    def distinct(key: str) -> list[str]:
        values = {record.get(key, NOT_RECORDED) for record in records}
        return [str(value) for value in sorted(values, key=lambda v: (isinstance(v, str), v))]

    return {
        "runs": len(records),
        "run_revisions": distinct("git_revision"),
        "cpu_threads": distinct("cpu_threads"),
        "machines": distinct("cpu"),
        "devices": distinct("device"),
        "report_revision": report_revision,
    }


def write_provenance(out: Path) -> None:
    """provenance.json of a profile folder, once its report has been written (the report: this checkout)."""
    write_json(out / layout.PROVENANCE, provenance(out, git_revision(REPO_ROOT)))


def short(revision: str) -> str:
    """A git revision as `git log --oneline` shows it, `-dirty` kept."""
    if revision in (NOT_RECORDED, "unknown"):
        return revision
    return revision[:7] + ("-dirty" if revision.endswith("-dirty") else "")


def provenance_text(record: dict) -> str:
    """One sentence: `39 run(s) at git 4491f0c on AMD EPYC, 2 CPUs, AVX-512 no, bfloat16 no (cpu), 1 CPU
    thread(s) each; report at git 6491a56` (a field an older record lacks: not recorded)."""

    def listed(key: str, joint: str) -> str:
        values = record.get(key) or [NOT_RECORDED]
        return joint.join(short(v) for v in values) if key == "run_revisions" else joint.join(values)

    machines = listed("machines", "; ").replace(NOT_RECORDED, "a machine not recorded")
    return (
        f"{record.get('runs', '?')} run(s) at git {listed('run_revisions', ', ')} on {machines} "
        f"({listed('devices', ' and ')}), {listed('cpu_threads', ' or ')} CPU thread(s) each; "
        f"report at git {short(record.get('report_revision', NOT_RECORDED))}"
    )

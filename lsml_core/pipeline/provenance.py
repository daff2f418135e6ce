"""Where a profile's answer comes from (`provenance.json`, beside `answer.json`): the git revisions, CPU threads,
machines and devices of the runs behind it, and the revision whose notebooks wrote the report. A committed answer
names what produced it; another machine, thread count or revision gives other, equally valid numbers."""

from pathlib import Path

from lsml_core import layout
from lsml_core.records import REPO_ROOT, git_revision, read_json, write_json

NOT_RECORDED = "not recorded"


def provenance(out: Path, report_revision: str) -> dict:
    """What produced the runs of a profile folder (each value the sorted distinct ones over its runs)."""
    records = [read_json(path) for path in sorted((out / layout.RUNS).glob(f"*/{layout.ENVIRONMENT}"))]

    def distinct(key: str) -> list[str]:
        return sorted({str(record.get(key, NOT_RECORDED)) for record in records})

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


def provenance_text(record: dict) -> str:
    """One sentence: `3 runs at git 4491f0c on AMD EPYC ..., 1 CPU thread each; report at 8a1b2c3`."""
    revisions = ", ".join(
        revision[:7] + ("-dirty" if revision.endswith("-dirty") else "") for revision in record["run_revisions"]
    )
    threads = " or ".join(record["cpu_threads"])
    machines = "; ".join(m for m in record["machines"] if m != NOT_RECORDED) or "a machine not recorded"
    devices = " and ".join(record["devices"])
    report = record["report_revision"]
    report = report[:7] + ("-dirty" if report.endswith("-dirty") else "")
    return (
        f"{record['runs']} runs at git {revisions} on {machines} ({devices}), {threads} CPU thread(s) each; "
        f"report at git {report}"
    )

"""Atomic writes and the record (config, package versions, git revision) kept beside every result."""

import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent

PACKAGES = (
    "torch",
    "torchvision",
    "numpy",
    "pandas",
    "scikit-learn",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
    "pillow",
    "pyyaml",
    "tqdm",
)


TEMPORARY_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)


def create_temporary(path: Path) -> tuple[int, Path]:
    """A new hidden file beside `path` (its descriptor, open for writing, and its name) with the mode that
    `open(path, "w")` gives: 0666 less the umask, applied by the system as it creates the file. mkstemp's 0600
    left records readable by their writer alone, and reading the umask to chmod afterwards is racy across threads
    (os.umask only reads it by setting it)."""
    path = Path(path)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            return os.open(tmp, TEMPORARY_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}: remove the .{path.name}.*.tmp files there")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old content or the new, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_npz(path: Path, compressed: bool = False, **arrays) -> None:
    """Write numpy arrays as one .npz file (zip-compressed if asked), atomically."""
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def atomic_write_text(path: Path, text: str) -> None:
    """Atomically write `text` (UTF-8)."""
    atomic_write_bytes(path, text.encode())


def write_json(path: Path, value) -> None:
    """Atomically write `value` as indented JSON."""
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=False) + "\n")


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_torch_save(obj, path: Path) -> None:
    """torch.save through a temporary file and a rename: an interrupted save keeps the old checkpoint; a failed
    one (a full disk) leaves no partial file behind. torch opens the file as `open` does: the umask's mode."""
    import torch  # here, not at the top: the report notebooks read records without torch

    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


GENERATED = (":(exclude)results", ":(exclude)README.md")  # written by the pipeline, not code


def git_revision(repo: Path) -> str:
    """The checkout's commit, with `-dirty` when its code has uncommitted changes (not the results and README
    sections the pipeline writes); `unknown` outside git."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(  # the committed answer and the README's sections generated from it are results
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *GENERATED],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return rev + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a result depends on."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def cpu_description() -> str:
    """The CPU model, its count and whether it has AVX-512 and bfloat16 instructions (both change the numbers a
    run computes), read from /proc/cpuinfo where there is one."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    fields = dict(line.split(":", 1) for line in reversed(lines) if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = set(fields.get("flags", "").split())
    avx512 = "yes" if "avx512f" in flags else "no"
    bf16 = "yes" if flags & {"avx512_bf16", "amx_bf16"} else "no"
    model = fields.get("model name", platform.machine())
    return f"{model}, {os.cpu_count()} CPUs, AVX-512 {avx512}, bfloat16 {bf16}"


def environment_record(repo: Path) -> dict:
    """What produced a result: time, machine, Python, packages, git revision, accelerator."""
    import torch

    return {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "git_revision": git_revision(repo),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_description(),
        "cpu_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "packages": package_versions(),
    }

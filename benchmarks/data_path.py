"""Throughput of the data paths side by side: (a) per-sample PIL in DataLoader workers, (b) the decoded-image
cache with batched transforms on the device (held whole on a GPU where it fits, as the pipeline does),
(c) the model-only ceiling on tensors already in memory, in every memory format and precision the device
offers (`lsml_core.compute`): the ratios are to the fastest of them. (a) and (b) compute in the run's choice
(`--precision`, `--memory-format`; default auto, as a profile's runs do).

    python -m benchmarks.data_path --out results/benchmark

For each model and size it trains `--steps` timed steps (after `--warmup` untimed ones) on VOC-sized
JPEGs (about 500 x 375) that it generates itself, predicts the val images with FiveCrop, and times the data
path alone (batches delivered to the device, no model: can it keep up with the ceiling?). Each way runs
in a fresh process so its peak resident memory is its own. Every setting is measured in `--repeats` rounds:
data_path.csv holds the medians (and the slowest and fastest round), data_path_rounds.csv every round.
Also writes data_path.png and machine.json under --out; prints the table with each way's ratio to the ceiling.
"""

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import torch
from PIL import Image

from lsml_core.checks import MEMORY_FORMATS, PRECISIONS
from lsml_core.datasets.voc import VOC_CLASSES
from lsml_core.records import atomic_write_text

REPO = Path(__file__).resolve().parent.parent
WAYS = ("pil", "cached", "ceiling")
EXTRA_WAYS = (
    "streamed",
)  # a diagnostic, with --ways: the cached split streamed from its file where `cached` holds it on the GPU
CLASSES = VOC_CLASSES


def write_voc_like(root: Path, n_train: int, n_val: int, seed: int = 0) -> Path:
    """A VOC-layout folder of smooth random JPEGs, 3 in 4 landscape 500 x 375, the rest portrait; kept if unchanged."""
    params = {"n_train": n_train, "n_val": n_val, "seed": seed, "layout": 2}
    stamp = root / "params.json"
    if stamp.is_file() and json.loads(stamp.read_text()) == params:
        return root
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    ids = {split: [f"{split}_{i:06d}" for i in range(n)] for split, n in (("train", n_train), ("val", n_val))}
    jobs = [(root, image_id, seed, index) for index, image_id in enumerate(ids["train"] + ids["val"])]
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:  # a GPU benchmark needs thousands
        list(pool.map(_write_image, jobs, chunksize=64))
    for split, names in ids.items():
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{i}\n" for i in names))
    stamp.write_text(json.dumps(params))
    return root


def _write_image(job: tuple) -> None:
    """One JPEG and its annotation (1-3 classes), drawn from a generator seeded by (seed, index)."""
    root, image_id, seed, index = job
    rng = np.random.default_rng([seed, index])
    size = (500, 375) if rng.random() < 0.75 else (375, 500)
    coarse = Image.fromarray(rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)).resize(size, Image.BICUBIC)
    noise = rng.normal(0, 10, (size[1], size[0], 3))
    pixels = np.clip(np.asarray(coarse) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(root / "JPEGImages" / f"{image_id}.jpg", quality=90)
    annotation = ET.Element("annotation")
    ET.SubElement(annotation, "filename").text = f"{image_id}.jpg"
    for name in rng.choice(CLASSES, size=rng.integers(1, 4), replace=False):
        ET.SubElement(ET.SubElement(annotation, "object"), "name").text = str(name)
    (root / "Annotations" / f"{image_id}.xml").write_bytes(ET.tostring(annotation))


def datasets(way: str, voc: Path, work: Path, size: int, n_fit: int):
    """(training, FiveCrop test) datasets of one way, built as `lsml_core.multilabel.splits.build_splits` builds them."""
    from torch.utils.data import Subset

    from lsml_core.datasets.voc import VOCMultiLabel
    from lsml_core.multilabel.images.batch_transforms import FiveCropBatch, TrainBatch
    from lsml_core.multilabel.images.image_cache import CachedImages
    from lsml_core.multilabel.images.transforms import VOC_RECIPE, five_crop_transform, scaled_recipe, train_transform

    recipe = VOC_RECIPE if size == VOC_RECIPE.size else scaled_recipe(size)
    if way == "pil":
        return (
            Subset(VOCMultiLabel(voc, "train", CLASSES, transform=train_transform(recipe)), range(n_fit)),
            VOCMultiLabel(voc, "val", CLASSES, transform=five_crop_transform(recipe)),
        )
    train_set, val_set, cache_dir = (
        VOCMultiLabel(voc, "train", CLASSES),
        VOCMultiLabel(voc, "val", CLASSES),
        work / "cache" / "images",
    )
    fit = CachedImages(train_set, cache_dir, recipe, "train", count=len(train_set), batch_transform=TrainBatch(recipe))
    test = CachedImages(val_set, cache_dir, recipe, "eval", count=len(val_set), batch_transform=FiveCropBatch(recipe))
    return Subset(fit, range(n_fit)), Subset(test, range(len(test)))


def now() -> float:
    """Wall time after the device has finished its queued work."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter()


class Clock:
    """Passes a loader's batches through, timing the `steps` batches after the first `warmup`."""

    def __init__(self, loader, warmup: int, steps: int):
        self.loader, self.warmup, self.steps = loader, warmup, steps
        self.start = self.stop = None

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        batches = iter(self.loader)
        for index in itertools.count():
            if index == self.warmup:
                self.start = now()
            if index == self.warmup + self.steps:
                self.stop = now()
            batch = next(batches, None)
            if batch is None:
                return
            yield batch


class WorkerMemory(threading.Thread):
    """Samples the peak resident memory (VmHWM) of this process's children (DataLoader workers) every 0.1 s."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peaks, self.done = {}, threading.Event()

    def run(self):
        children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
        while not self.done.wait(0.1):
            for pid in children.read_text().split() if children.is_file() else []:
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                hwm = next((int(s.split()[1]) for s in status.splitlines() if s.startswith("VmHWM:")), 0)
                self.peaks[pid] = max(self.peaks.get(pid, 0), hwm)

    def total_mb(self) -> float:
        """The sum of every worker's peak, in MiB (forked workers share pages, so this overstates)."""
        self.done.set()
        return sum(self.peaks.values()) / 1024


def in_memory(shape: tuple[int, ...], n_batches: int, device: torch.device, compute) -> list:
    """The ceiling's loader: one normalised batch, already on the device in `compute`'s format, served `n_batches` times."""
    images = compute.inputs(torch.randn(shape, device=device))
    targets = torch.randint(0, 2, (shape[0], len(CLASSES)), device=device).float()
    return [(images, targets, torch.ones_like(targets))] * n_batches


def loader_images_per_s(loader, device: torch.device, warmup: int, steps: int, batch: int) -> float:
    """Images/s of the data path alone: batches delivered to the device as the model's input, no model.

    Above the ceiling's rate, the data path can keep the model busy; a training rate below 0.9 of the
    ceiling then comes from the two competing (for cores, the GIL or the device), not from the data path.
    """
    clock = Clock(loader, warmup, steps)
    for images, _, _ in clock:
        images.to(device, non_blocking=True)
    return steps * batch / (clock.stop - clock.start)


def measure(spec: dict) -> dict:
    """One way x model x size in this process: training and FiveCrop evaluation images/s, peak memory."""
    from lsml_core.compute import choose
    from lsml_core.fit import choose_device, maybe_compile, train_pass
    from lsml_core.multilabel.images.loaders import make_loader
    from lsml_core.multilabel.losses import MultiLabelLoss
    from lsml_core.multilabel.models import build_model
    from lsml_core.multilabel.train import make_optimizer, predict
    from lsml_core.seeding import make_deterministic

    way, size, batch, steps, warmup = spec["way"], spec["size"], spec["batch_size"], spec["steps"], spec["warmup"]
    device = choose_device("auto")
    make_deterministic(device)  # as training does: deterministic on CPU, cuDNN autotuning on CUDA
    torch.manual_seed(0)
    fit, test = datasets(way, Path(spec["voc"]), Path(spec["work"]), size, (warmup + steps + 1) * batch)
    compute = choose(device, spec["model"], spec["precision"], spec["memory_format"])
    model = compute.prepare(build_model(spec["model"], len(CLASSES)).to(device))
    optimizer = make_optimizer(
        model,
        lr_backbone=0.01,
        lr_head=0.01,
        momentum=0.9,
        weight_decay=0.0,
        device=device,
        loss_scaling=compute.precision == "fp16",
    )
    net = maybe_compile(model, spec.get("compile", False))
    scaler = compute.grad_scaler(device)
    eval_batch, n_eval = batch, len(test)  # FiveCrop: batch images x 5 crops per forward, as evaluation does
    workers = spec["workers"] if way == "pil" else spec["cached_workers"]
    resident = False if way == "streamed" else None  # None: the project's choice (on the GPU when it fits)
    if way == "ceiling":
        train_loader = in_memory((batch, 3, size, size), warmup + steps, device, compute)
        eval_loader = in_memory((eval_batch, 5, 3, size, size), -(-n_eval // eval_batch), device, compute)
    else:
        train_loader = make_loader(fit, batch, device, num_workers=workers, shuffle_seed=0, resident=resident)
        eval_loader = make_loader(test, eval_batch, device, num_workers=workers, resident=resident)
    clock, workers_memory = Clock(train_loader, warmup, steps), WorkerMemory()
    workers_memory.start()
    criterion = MultiLabelLoss("bce", "none", 0.0)
    train_pass(
        net,
        clock,
        lambda logits, images, targets, masks: criterion(logits, targets, masks),
        optimizer=optimizer,
        scaler=scaler,
        device=device,
        max_batches=warmup + steps,
        desc=f"{way} {spec['model']} {size}px",
        total=warmup + steps,
        compute=compute,
    )
    for shape_batch in {eval_batch, n_eval % eval_batch} - {0}:  # warm the eval shapes (cuDNN autotunes each)
        predict(net, in_memory((shape_batch, 5, 3, size, size), 1, device, compute), device, compute)
    start = now()
    predict(net, eval_loader, device, compute)
    eval_seconds = now() - start
    again = make_loader(fit, batch, device, num_workers=workers, shuffle_seed=1, resident=resident)
    loader_rate = float("nan") if way == "ceiling" else loader_images_per_s(again, device, warmup, steps, batch)
    return {
        "train_images_per_s": steps * batch / (clock.stop - clock.start),
        "eval_images_per_s": eval_batch * len(eval_loader) / eval_seconds
        if way == "ceiling"
        else n_eval / eval_seconds,
        "loader_images_per_s": loader_rate,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "workers_peak_rss_mb": workers_memory.total_mb(),
        "device": str(device),
        "loader": type(train_loader).__name__,
        "compute": compute_name(device, spec["model"], spec["precision"], spec["memory_format"]),
    }


def run_isolated(spec: dict) -> dict:
    """`measure(spec)` in a fresh Python process."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.data_path", "--measure", json.dumps(spec)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"measuring {spec['way']} {spec['model']} {spec['size']}px failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def build_caches(voc: Path, work: Path, size: int) -> dict:
    """Build (or find) the caches of one size: seconds taken and megabytes on disk."""
    start = time.perf_counter()
    fit, test = datasets("cached", voc, work, size, 1)
    seconds = time.perf_counter() - start
    megabytes = sum(os.path.getsize(d.dataset.path) for d in (fit, test)) / 2**20
    return {"size": size, "cache_build_s": round(seconds, 2), "cache_mb": round(megabytes, 1)}


def machine() -> dict:
    """What the benchmark ran on."""
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").is_file()
        else platform.processor()
    )
    return {
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "platform": platform.platform(),
    }


def compute_name(device: torch.device, model: str, precision: str = "auto", memory_format: str = "auto") -> str:
    """`format/precision` that a run of `model` computes in on `device` with these settings."""
    from lsml_core.compute import choose

    compute = choose(device, model, precision, memory_format)
    return f"{compute.memory_format}/{compute.precision}"


def ceiling_computes(device: torch.device) -> list[tuple[str, str]]:
    """Every (memory format, precision) the ceiling is measured in on `device`: its fastest is the ceiling."""
    from lsml_core.compute import cpu_computes_bf16

    if device.type == "cuda":
        precisions = ["fp32", "fp16"] + (["bf16"] if torch.cuda.is_bf16_supported() else [])
    else:
        precisions = ["fp32"] + (["bf16"] if cpu_computes_bf16() else [])
    return list(itertools.product(("contiguous", "channels_last"), precisions))


def medians(rounds: pd.DataFrame) -> pd.DataFrame:
    """Per model, size, way and compute: the median of the rounds, with the slowest and fastest training round."""
    keys = ["model", "size", "batch_size", "way", "compute"]
    grouped = rounds.groupby(keys, sort=False)
    frame = grouped[
        ["train_images_per_s", "eval_images_per_s", "loader_images_per_s", "peak_rss_mb", "workers_peak_rss_mb"]
    ].median()
    frame["train_images_per_s_min"] = grouped.train_images_per_s.min()
    frame["train_images_per_s_max"] = grouped.train_images_per_s.max()
    frame["rounds"] = grouped.size()
    firsts = {k: grouped[k].first().to_numpy() for k in ("device", "loader") if k in rounds}
    return frame.reset_index().assign(**firsts)


def with_ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """Each row's images/s over the ceiling's (the fastest format and precision), for training and evaluation,
    per model and size."""
    ceiling = frame[frame.way == "ceiling"].groupby(["model", "size"])
    keys = pd.MultiIndex.from_frame(frame[["model", "size"]])
    for step in ("train", "eval"):
        fastest = ceiling[f"{step}_images_per_s"].max().reindex(keys).to_numpy()
        frame[f"{step}_ratio_to_ceiling"] = frame[f"{step}_images_per_s"].to_numpy() / fastest
    return frame


def markdown(frame: pd.DataFrame) -> str:
    """A Markdown table, numbers to three significant digits."""
    cells = [[f"{v:.3g}" if isinstance(v, float) else str(v) for v in row] for row in frame.itertuples(index=False)]
    lines = [list(frame.columns), ["---"] * len(frame.columns), *cells]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def plot(frame: pd.DataFrame, path: Path) -> None:
    """Training and evaluation images/s per setting, one bar per way."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4))
    for ax, column, title in zip(
        axes, ("train_images_per_s", "eval_images_per_s"), ("training", "evaluation (FiveCrop)")
    ):
        table = frame.assign(
            setting=frame.model + " " + frame["size"].astype(str) + "px", label=frame.way + " " + frame.compute
        ).pivot(index="setting", columns="label", values=column)
        table.plot.bar(ax=ax, rot=0, logy=True)
        ax.set_ylabel("images / s")
        ax.set_title(f"{title} images / s")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


SETTINGS = (
    "models",
    "ways",
    "sizes",
    "batch_sizes",
    "steps",
    "warmup",
    "eval_images",
    "workers",
    "cached_workers",
    "compile",
    "precision",
    "memory_format",
)


def measured_rounds(args) -> list[dict]:
    """Rows already in <out>/data_path_rounds.csv from a run with the same settings (a rerun resumes)."""
    settings = {name: getattr(args, name) for name in SETTINGS}
    stamp, rounds = args.out / "data_path_settings.json", args.out / "data_path_rounds.csv"
    if stamp.is_file() and rounds.is_file() and json.loads(stamp.read_text()) == settings:
        return pd.read_csv(rounds).to_dict("records")
    rounds.unlink(missing_ok=True)
    atomic_write_text(stamp, json.dumps(settings, indent=2))
    return []


def main(argv=None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", nargs="+", default=["resnet18", "mobilenet_v2"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[56, 300], help="working sizes in pixels")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[64, 8], help="one per size (the profiles')")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per way")
    parser.add_argument("--warmup", type=int, default=3, help="untimed training steps first")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over every setting; the table holds medians")
    parser.add_argument("--eval-images", type=int, default=40, help="val images predicted with FiveCrop")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the per-sample PIL way")
    parser.add_argument("--cached-workers", type=int, default=0, help="DataLoader workers of the cached way")
    parser.add_argument(
        "--ways",
        nargs="+",
        default=list(WAYS),
        choices=[*WAYS, *EXTRA_WAYS],
        help="ceiling is needed for the ratios; streamed (a diagnostic) streams the cache from its file on CUDA too",
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the model in every way (for CUDA)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help="of the pil and cached ways")
    parser.add_argument("--memory-format", default="auto", choices=MEMORY_FORMATS, help="of the pil and cached ways")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "benchmark")
    parser.add_argument("--work-dir", type=Path, help="generated JPEGs and caches; default <out>/work")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(json.loads(args.measure))))
        return None
    if len(args.sizes) != len(args.batch_sizes):
        raise SystemExit(f"--sizes {args.sizes} and --batch-sizes {args.batch_sizes} need one batch size per size")
    args.out.mkdir(parents=True, exist_ok=True)
    work = (args.work_dir or args.out / "work").resolve()
    n_train = max(args.batch_sizes) * (args.warmup + args.steps + 1)
    voc = write_voc_like(work / "voc", n_train, args.eval_images)
    caches = [build_caches(voc, work, size) for size in args.sizes]
    rows = measured_rounds(args)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    for repeat in range(1, args.repeats + 1):  # whole rounds, so a passing disturbance hits one round only
        for model, (size, batch) in itertools.product(args.models, zip(args.sizes, args.batch_sizes)):
            ways = [
                (way, layout, precision)
                for way in args.ways
                for layout, precision in (
                    ceiling_computes(device) if way == "ceiling" else [(args.memory_format, args.precision)]
                )
            ]
            for way, layout, precision in ways:
                key = {"model": model, "size": size, "batch_size": batch, "way": way, "asked": f"{layout}/{precision}"}
                key["repeat"] = repeat
                if any(all(row[k] == v for k, v in key.items()) for row in rows):
                    continue  # measured by an earlier, interrupted run with the same settings
                spec = {
                    "precision": precision,
                    "memory_format": layout,
                    "way": way,
                    "model": model,
                    "size": size,
                    "batch_size": batch,
                    "steps": args.steps,
                    "warmup": args.warmup,
                    "workers": args.workers,
                    "cached_workers": args.cached_workers,
                    "compile": args.compile,
                    "voc": str(voc),
                    "work": str(work),
                }
                start = time.perf_counter()
                rows.append({**key, **run_isolated(spec)})
                atomic_write_text(
                    args.out / "data_path_rounds.csv", pd.DataFrame(rows).to_csv(index=False, float_format="%.4g")
                )
                print(
                    f"round {repeat}/{args.repeats} {model} {size}px {way} {rows[-1]['compute']}: "
                    f"{rows[-1]['train_images_per_s']:.1f} "
                    f"train images/s ({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )
    rows = [row for row in rows if row["repeat"] <= args.repeats]
    frame = with_ratios(medians(pd.DataFrame(rows)))
    frame.to_csv(args.out / "data_path.csv", index=False, float_format="%.4g")
    (args.out / "machine.json").write_text(
        json.dumps(
            {
                **machine(),
                "train_images": n_train,
                "caches": caches,
                "arguments": {k: str(v) for k, v in vars(args).items()},
            },
            indent=2,
        )
    )
    plot(frame, args.out / "data_path.png")
    columns = [
        "model",
        "size",
        "batch_size",
        "way",
        "compute",
        "train_images_per_s",
        "train_ratio_to_ceiling",
        "eval_images_per_s",
        "eval_ratio_to_ceiling",
        "loader_images_per_s",
        "peak_rss_mb",
        "workers_peak_rss_mb",
    ]
    columns += ["loader"] if "loader" in frame else []
    print(json.dumps(machine()))
    print(markdown(frame[columns]))
    print(f"caches: {caches}\nwritten: {args.out / 'data_path.csv'}, {args.out / 'data_path.png'}")
    return frame


if __name__ == "__main__":
    main()

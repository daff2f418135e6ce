"""Seeds for Python, NumPy and torch; deterministic kernels on CPU, autotuned ones on CUDA."""

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed every random generator the study uses, so a run repeats exactly on CPU."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def make_deterministic(device: torch.device | str = "cpu") -> None:
    """Deterministic kernels on CPU (runs repeat bit for bit); on CUDA, cuDNN's autotuned fastest ones.

    A CUDA run is seeded the same way but is not bit-exact: deterministic CUDA kernels and a fixed
    cuDNN algorithm cost throughput, and mixed precision already rounds differently from the CPU.
    """
    fast = torch.device(device).type == "cuda"
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(not fast, warn_only=True)
    torch.backends.cudnn.benchmark = fast

"""Seeds for Python, NumPy and torch, and deterministic CPU kernels."""
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


def make_deterministic() -> None:
    """Ask torch for deterministic kernels (CPU runs repeat bit for bit; CUDA as far as it can)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False

"""Label noise at known rates, for testing the claim that smoothing guards against mislabeled data.

Each positive (image, class) pair is dropped with probability p; each negative pair becomes a false
positive with probability q = p * positives / negatives, so the expected number of added labels
equals the expected number dropped. Masked pairs are left alone. Seeded; the record says what happened.
"""

import numpy as np


def corrupt_labels(targets: np.ndarray, mask: np.ndarray, rate: float, seed: int) -> tuple[np.ndarray, dict]:
    """Noisy copy of multi-hot `targets`, and a record of the corruption."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"label_noise={rate} is out of range: it must lie in [0, 1)")
    valid = np.asarray(mask) > 0
    positive, negative = (targets > 0) & valid, (targets == 0) & valid
    n_pos, n_neg = int(positive.sum()), int(negative.sum())
    add_rate = rate * n_pos / max(n_neg, 1)
    if add_rate > 1.0:
        raise ValueError(
            f"label_noise={rate} needs more false positives ({rate * n_pos:.0f}) than there are "
            f"negative pairs ({n_neg}); use a lower rate"
        )
    rng = np.random.default_rng(seed)
    dropped = positive & (rng.random(targets.shape) < rate)
    added = negative & (rng.random(targets.shape) < add_rate)
    noisy = targets.copy()
    noisy[dropped], noisy[added] = 0, 1
    record = {
        "rate": rate,
        "seed": seed,
        "positives": n_pos,
        "negatives": n_neg,
        "false_positive_rate": add_rate,
        "dropped": int(dropped.sum()),
        "added": int(added.sum()),
        "images_left_without_labels": int((((noisy > 0) & valid).sum(axis=1) == 0).sum()),
    }
    return noisy, record

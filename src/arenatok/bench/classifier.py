"""The bench's classifier: a logistic regression on feature differences, fitted and scored."""

from __future__ import annotations

from typing import Any

import numpy as np


def fit(x_train: Any, y_train: np.ndarray, seed: int) -> Any:
    """Logistic regression (L2, C=1; multinomial for three classes), fitted by Newton-CG to
    its optimum (in a worker: only the model comes back)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, solver="newton-cg", max_iter=2000, random_state=seed).fit(
        x_train, y_train
    )


def predict(model: Any, x_test: Any, classes: int = 2) -> np.ndarray:
    """P(A wins), or the probabilities of the `classes` classes (B, A, tie), 0 for a class the
    training split lacks."""
    p: np.ndarray = model.predict_proba(x_test)
    if classes == 2:
        return p[:, list(model.classes_).index(1)]
    out = np.zeros((p.shape[0], classes))
    out[:, model.classes_] = p
    return out

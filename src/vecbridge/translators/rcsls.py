"""RCSLS: a linear map trained on supervised pairs with the relaxed CSLS loss (Joulin et al., EMNLP 2018).

For pairs ``(x_i, y_i)`` and a map ``W`` (dx, dy) the loss is

    L(W) = 1/n sum_i [ -2 x_i W . y_i
                       + 1/k sum_{y_j in N_Y(x_i W)} x_i W . y_j
                       + 1/k sum_{x_j in N_X(y_i)}  x_j W . y_i ]

where ``N_Y(x_i W)`` are the k target candidates nearest to the mapped source
word and ``N_X(y_i)`` the k mapped source candidates nearest to the target
word: the retrieval criterion of CSLS turned into a training loss, so the map
is trained for what it is used for, with hubs penalised. With the neighbour
sets fixed the loss is linear in W and its gradient is
``1/n [ -2 X^T Y + X^T Ybar + Xbar^T Y ]`` (Ybar, Xbar the neighbour means).
Training is full-batch gradient descent from the Procrustes solution, with
the step halved whenever the loss rises (the step is then undone), and
optionally a spectral projection after each step that clips the singular
values of W to [0, 1] (keeps W close to orthogonal). Early stopping on a held
out share of the training pairs (by CSLS precision@1 on those pairs).
"""

from __future__ import annotations


import numpy as np

from ..compute import Compute, as_compute
from ..errors import VecbridgeError
from ..neighbors import top_k
from ..normalize import unit_rows
from .base import Choice, FitData, Range, Translator
from .linear import procrustes_map

# The names RCSLS._fit still uses, until it takes a Compute (then these go):


def spectral_projection(W: np.ndarray) -> np.ndarray:
    """W with its singular values clipped to [0, 1] (float64 SVD of a d x d matrix)."""
    U, s, Vt = np.linalg.svd(np.asarray(W, dtype=np.float64), full_matrices=False)
    return ((U * np.clip(s, 0.0, 1.0)) @ Vt).astype(np.float32)


def neighbour_means(
    Q: np.ndarray, T: np.ndarray, k: int, backend: str | None = None, *, compute: Compute | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the k rows of T (nt, d) nearest (dot product) to each row of Q (nq, d): (nq, d), and the mean
    similarity (nq,). ``backend``, when given, overrides ``compute.backend``."""
    top = top_k(Q, T, k, similarity="dot", compute=as_compute(compute, backend=backend), desc="rcsls neighbours")
    return T[top.indices].mean(axis=1), top.knn_mean()


def rcsls_loss_and_grad(
    X: np.ndarray, Y: np.ndarray, W: np.ndarray, Xc: np.ndarray, Yc: np.ndarray, k: int, backend: str | None = None,
    *, compute: Compute | None = None,
) -> tuple[float, np.ndarray]:
    """RCSLS loss and its gradient with respect to W.

    X (n, dx), Y (n, dy): paired unit rows; W (dx, dy); Xc (mx, dx), Yc (my, dy):
    the candidate vocabularies in which neighbours are sought. Returns
    ``(loss, grad)``, grad (dx, dy) float32. ``backend``, when given, overrides ``compute.backend``.
    """
    compute = as_compute(compute, backend=backend)
    XW = X @ W
    XcW = Xc @ W
    Ybar, sim_f = neighbour_means(XW, Yc, k, compute=compute)  # target neighbours of mapped sources
    back = top_k(Y, XcW, k, similarity="dot", compute=compute, desc="rcsls neighbours")  # mapped source neighbours
    Xbar_idx_vals, Xbar_idx = back.values, back.indices
    Xbar = Xc[Xbar_idx].mean(axis=1)
    n = len(X)
    pos = np.einsum("ij,ij->i", XW, Y)
    loss = float((-2.0 * pos + sim_f + Xbar_idx_vals.mean(axis=1)).mean())
    grad = (-2.0 * X.T @ Y + X.T @ Ybar + Xbar.T @ Y) / n
    return loss, grad.astype(np.float32)


def csls_precision_at_1(
    X: np.ndarray, Y: np.ndarray, Yc: np.ndarray, W: np.ndarray, Xc: np.ndarray, k: int = 10,
    backend: str | None = None, *, compute: Compute | None = None,
) -> float:
    """Share of mapped X rows whose CSLS nearest row among ``[Yc; Y]`` is their own gold vector.

    X (n, dx), Y (n, dy) paired rows; Yc (m, dy) distractor candidates; Xc
    (mx, dx) source candidates for the CSLS penalty of the targets. A hit is a
    retrieved vector equal (cosine > 1 - 1e-5) to the gold one, so a gold word
    that is also among the candidates counts once.
    """
    compute = as_compute(compute, backend=backend)
    pool = unit_rows(np.concatenate([Yc, Y]))
    XW = unit_rows(X @ W)
    r_tgt = top_k(pool, unit_rows(Xc @ W), k, similarity="dot", compute=compute, desc="csls r_S").knn_mean()
    vals, idx = top_k(XW, pool, 32, similarity="dot", compute=compute, desc="csls candidates")
    best = idx[np.arange(len(idx)), (2 * vals - r_tgt[idx]).argmax(axis=1)]
    return float(np.mean(np.einsum("ij,ij->i", pool[best], unit_rows(Y)) > 1 - 1e-5))


class RCSLS(Translator):
    """Linear map trained with the relaxed CSLS loss (Joulin et al. 2018).

    ``fit(src_emb, tgt_emb, pairs=...)`` uses the pairs for the loss and the
    first ``n_candidates`` words of each vocabulary (frequency order) as the
    neighbour candidates; with paired arrays the candidates are the pairs.

    Parameters
    ----------
    k : int
        Neighbourhood of the loss (10 in the paper).
    n_candidates : int
        Candidate words per side for the neighbour terms.
    n_iter : int
        Gradient steps at most.
    lr : float
        Initial step size (halved when the loss rises).
    spectral : bool
        Project W onto singular values in [0, 1] after each step.
    validation : float
        Share of the training pairs held out for early stopping (0: none).
    patience : int
        Steps without a better held-out precision before stopping.
    normalize : str
        Normalisation of both sides (default ``"unit center unit"``).
    seed : int
    backend, progress : as for :class:`~.selflearn.SelfLearning`.
    """

    method = "rcsls"
    needs = "spaces"
    requires_pairs = True
    param_ranges = {"k": Range(1), "n_candidates": Range(1), "n_iter": Range(1), "lr": Range(0, low_open=True),
                    "validation": Range(0, 0.5, high_open=True), "patience": Range(0),
                    "backend": Choice(("auto", "numpy", "torch"))}
    saved_arrays = {"W_": ("in", "out")}

    def __init__(
        self,
        k: int = 10,
        n_candidates: int = 20000,
        n_iter: int = 30,
        lr: float = 1.0,
        spectral: bool = True,
        validation: float = 0.1,
        patience: int = 5,
        normalize: str | None = "unit center unit",
        seed: int = 0,
        backend: str = "auto",
        progress: bool | None = None,
    ):
        self.k = k
        self.n_candidates = n_candidates
        self.n_iter = n_iter
        self.lr = lr
        self.spectral = spectral
        self.validation = validation
        self.patience = patience
        self.normalize = normalize
        self.seed = seed
        self.backend = backend
        self.progress = progress

    def _fit(self, data: FitData) -> None:
        X, Y = data.paired_rows()
        if not 0 <= self.validation < 0.5:
            raise VecbridgeError(f"validation must be in [0, 0.5), got {self.validation}")
        if int(self.k) < 1:
            raise VecbridgeError(f"k must be >= 1, got {self.k}")
        compute = Compute(backend=self.backend, progress=self.progress)
        X, Y = unit_rows(X), unit_rows(Y)
        if data.src is not None:  # the most frequent words of each whole vocabulary
            n = int(self.n_candidates)
            Xc, Yc = unit_rows(data.X[:n]), unit_rows(data.Y[:n])
        else:
            Xc, Yc = X, Y
        rng = np.random.default_rng(int(self.seed))
        n = len(X)
        n_val = int(round(self.validation * n)) if self.validation > 0 else 0
        perm = rng.permutation(n)
        val, tr = perm[:n_val], perm[n_val:]
        Xt, Yt = X[tr], Y[tr]
        W, _ = procrustes_map(Xt, Yt)
        W = W.astype(np.float32)
        lr = float(self.lr)
        loss, grad = rcsls_loss_and_grad(Xt, Yt, W, Xc, Yc, int(self.k), compute=compute)
        best_W, best_score, since = W.copy(), -np.inf, 0
        if n_val:
            best_score = csls_precision_at_1(X[val], Y[val], Yc, W, Xc, int(self.k), compute=compute)
        history = [{"step": 0, "loss": round(loss, 6), "val_p1": None if not n_val else round(best_score, 4)}]
        bar = compute.bar(int(self.n_iter), "rcsls", unit="it")
        steps = 0
        for step in range(1, int(self.n_iter) + 1):
            W_new = W - lr * grad
            if self.spectral:
                W_new = spectral_projection(W_new)
            loss_new, grad_new = rcsls_loss_and_grad(Xt, Yt, W_new, Xc, Yc, int(self.k), compute=compute)
            bar.update(1)
            if loss_new > loss:
                lr /= 2.0
                history.append({"step": step, "loss": round(loss_new, 6), "rejected": True, "lr": lr})
                if lr < 1e-4:
                    break
                continue
            W, loss, grad = W_new, loss_new, grad_new
            steps = step
            rec = {"step": step, "loss": round(loss, 6), "lr": lr}
            if n_val:
                score = csls_precision_at_1(X[val], Y[val], Yc, W, Xc, int(self.k), compute=compute)
                rec["val_p1"] = round(score, 4)
                if score > best_score:
                    best_W, best_score, since = W.copy(), score, 0
                else:
                    since += 1
                    if since >= int(self.patience):
                        history.append(rec)
                        break
            else:
                best_W = W
            history.append(rec)
        bar.close()
        self.W_ = best_W
        self.fit_info_ = {
            **getattr(self, "fit_info_", {}),
            "objective": round(float(loss), 6),
            "steps": steps,
            "history": history,
            "n_validation_pairs": n_val,
            "validation_p1": None if not n_val else round(float(best_score), 4),
        }

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return X @ self.W_

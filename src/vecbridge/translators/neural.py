"""Nonlinear and low-rank adapters trained in torch, applied in numpy.

Why "a simple MLP between two embeddings does not work" and what this module
does instead:

- width: the hidden layers are wider than both dimensions (default
  ``2 * max(dx, dy)``), so the network is not a bottleneck;
- a residual design: ``y = unit(x A + b + f(x))`` where ``x A + b`` is the
  least-squares map (closed form, computed first) and ``f`` a stack of
  pre-norm residual blocks ``h + W2 act(W1 LN(h))`` whose output layer starts
  at zero, so training starts from the linear solution and can only add to it;
- ReLU or SiLU hidden layers, a normalised output and a loss for directional
  vectors: ``cosine`` (1 - cos) or ``infonce`` (contrastive, in-batch
  negatives, symmetric), or ``mse``;
- early stopping on a held-out share of the *training* pairs (precision@1 of
  the held-out pairs among all training targets, ties broken by their mean
  cosine), keeping the best epoch.

:class:`LowRankAffine` is ``y = x A B + b`` with A (dx, r), B (r, dy), started
from the closed-form reduced-rank regression and optionally trained further
with the cosine or InfoNCE loss.

Weights are stored as float32 numpy arrays (safetensors, no pickle) and
``transform`` runs in numpy; torch is needed only to fit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import VecbridgeError
from ..normalize import unit_rows
from .base import Choice, Range, Translator
from .linear import lstsq_map

LOSSES = ("cosine", "infonce", "mse")
ACTIVATIONS = ("silu", "relu")


def _torch():
    try:
        import torch
    except ImportError:
        raise VecbridgeError("neural adapters need torch: pip install 'vecbridge[torch]'") from None
    return torch


def _layer_norm_np(H: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mu = H.mean(axis=-1, keepdims=True)
    var = H.var(axis=-1, keepdims=True)
    return (H - mu) / np.sqrt(var + eps) * g + b


def _act_np(H: np.ndarray, name: str) -> np.ndarray:
    if name == "relu":
        return np.maximum(H, 0)
    return H / (1.0 + np.exp(-H))  # SiLU


def _split(n: int, validation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not 0 <= validation < 0.5:
        raise VecbridgeError(f"validation must be in [0, 0.5), got {validation}")
    perm = np.random.default_rng(seed).permutation(n)
    n_val = int(round(validation * n))
    if validation > 0 and n_val < 2:
        raise VecbridgeError(f"{n} pairs are too few to hold out a validation share of {validation}; pass validation=0")
    return perm[n_val:], perm[:n_val]


def held_out_precision(P: np.ndarray, Y_val: np.ndarray, Y_pool: np.ndarray) -> float:
    """Share of predictions P (n, d) whose nearest (cosine) row of ``[Y_pool; Y_val]`` equals their gold row."""
    pool = unit_rows(np.concatenate([Y_pool, Y_val]))
    best = (unit_rows(P) @ pool.T).argmax(axis=1)
    return float(np.mean(np.einsum("ij,ij->i", pool[best], unit_rows(Y_val)) > 1 - 1e-5))


def held_out_score(P: np.ndarray, Y_val: np.ndarray, Y_pool: np.ndarray) -> tuple[float, float]:
    """(precision@1, mean cosine to the gold) of held-out predictions; compared as a tuple, so the
    mean cosine breaks ties when precision saturates."""
    return held_out_precision(P, Y_val, Y_pool), float(np.mean(np.sum(unit_rows(P) * unit_rows(Y_val), axis=1)))


def _loss_fn(torch, name: str, temperature: float):
    F = torch.nn.functional
    if name == "cosine":
        return lambda p, y: (1.0 - F.cosine_similarity(p, y, dim=1)).mean()
    if name == "mse":
        return lambda p, y: ((p - y) ** 2).sum(dim=1).mean()

    def infonce(p, y):
        logits = F.normalize(p, dim=1) @ F.normalize(y, dim=1).T / temperature
        labels = torch.arange(len(p))
        return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))

    return infonce


def train_torch(
    module: Any,
    X: np.ndarray,
    Y: np.ndarray,
    val: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    predict_np,
    loss: str,
    temperature: float,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    patience: int,
    seed: int,
    progress: bool | None,
    desc: str,
) -> tuple[dict[str, np.ndarray], list[dict[str, float]]]:
    """Adam on minibatches with early stopping on held-out precision@1; returns the best state and the history.

    ``predict_np(state)`` must map the held-out sources with a numpy state dict
    (the same code path as ``transform``), so what is selected is what is saved.
    """
    torch = _torch()
    from ..progress import progress_bar

    gen = torch.Generator().manual_seed(int(seed))
    Xt, Yt = torch.from_numpy(np.ascontiguousarray(X)), torch.from_numpy(np.ascontiguousarray(Y))
    opt = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
    fn = _loss_fn(torch, loss, temperature)
    n = len(Xt)

    def state() -> dict[str, np.ndarray]:
        return {k: v.detach().numpy().astype(np.float32).copy() for k, v in module.state_dict().items()}

    best_state, best_score, since = state(), (-np.inf, -np.inf), 0
    history: list[dict[str, float]] = []
    if val is not None:
        best_score = held_out_score(predict_np(best_state), val[1], val[2])
        history.append({"epoch": 0, "val_p1": round(best_score[0], 4), "val_cos": round(best_score[1], 5)})
    bar = progress_bar(epochs, desc, progress)
    for epoch in range(1, epochs + 1):
        module.train()
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for a in range(0, n, batch_size):
            idx = perm[a:a + batch_size]
            if len(idx) < 2 and loss == "infonce":
                continue
            opt.zero_grad()
            out = fn(module(Xt[idx]), Yt[idx])
            out.backward()
            opt.step()
            total += float(out.detach()) * len(idx)
        module.eval()
        rec = {"epoch": epoch, "train_loss": round(total / n, 6)}
        bar.update(1)
        if val is not None:
            score = held_out_score(predict_np(state()), val[1], val[2])
            rec["val_p1"], rec["val_cos"] = round(score[0], 4), round(score[1], 5)
            if score > best_score:
                best_state, best_score, since = state(), score, 0
            else:
                since += 1
            history.append(rec)
            if since >= patience:
                break
        else:
            best_state = state()
            history.append(rec)
    bar.close()
    return best_state, history


class _NeuralBase(Translator):
    """Shared fitting plumbing: the training parameters, hold-out split, validation set, fit_info_."""

    #: the training parameters every adapter has
    TRAINING_RANGES = {"loss": Choice(LOSSES), "temperature": Range(0, low_open=True), "epochs": Range(1),
                       "batch_size": Range(1), "lr": Range(0, low_open=True), "weight_decay": Range(0),
                       "validation": Range(0, 0.5, high_open=True), "patience": Range(0)}

    def __init__(self, *, loss: str, temperature: float, epochs: int, batch_size: int, lr: float, weight_decay: float,
                 validation: float, patience: int, normalize: str | None, seed: int, progress: bool | None):
        """Store the training parameters every adapter has (each subclass's ``__init__`` declares them, with
        its own defaults, and passes them on)."""
        self.loss = loss
        self.temperature = temperature
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation = validation
        self.patience = patience
        self.normalize = normalize
        self.seed = seed
        self.progress = progress

    def _validate_common(self) -> None:
        if self.loss not in LOSSES:
            raise VecbridgeError(f"loss must be one of {', '.join(LOSSES)}, got {self.loss!r}")
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise VecbridgeError(f"{name} must be >= 1, got {getattr(self, name)}")

    def _prepare(self, X: np.ndarray, Y: np.ndarray):
        tr, va = _split(len(X), float(self.validation), int(self.seed))
        val = (X[va], Y[va], Y[tr]) if len(va) else None
        return X[tr], Y[tr], val


class MLPAdapter(_NeuralBase):
    """Residual MLP adapter: ``unit(x A + b + f(x))`` with ``x A + b`` the least-squares map.

    Parameters
    ----------
    hidden : int, optional
        Width of the residual blocks (default ``2 * max(dx, dy)``; must exceed both dimensions).
    n_blocks : int
        Residual blocks.
    activation : {"silu", "relu"}
    loss : {"cosine", "infonce", "mse"}
    temperature : float
        InfoNCE temperature.
    epochs, batch_size, lr, weight_decay : training settings (AdamW).
    validation : float
        Share of the training pairs held out for early stopping (0: none, train all epochs).
    patience : int
        Epochs without a better held-out precision before stopping.
    normalize : str
        Normalisation of both sides (default ``"unit center unit"``).
    seed : int
    progress : bool or None
    """

    method = "mlp"
    param_ranges = {**_NeuralBase.TRAINING_RANGES, "hidden": Range(1), "n_blocks": Range(0),
                    "activation": Choice(ACTIVATIONS)}
    saved_arrays = {"skip_W_": ("in", "out"), "skip_b_": ("out",), "in_W_": ("in", "h"), "in_b_": ("h",),
                    "ln_g_": ("L", "h"), "ln_b_": ("L", "h"), "W1_": ("L", "h", "h"), "b1_": ("L", "h"),
                    "W2_": ("L", "h", "h"), "b2_": ("L", "h"), "out_W_": ("h", "out"), "out_b_": ("out",)}

    def __init__(
        self,
        hidden: int | None = None,
        n_blocks: int = 2,
        activation: str = "silu",
        loss: str = "cosine",
        temperature: float = 0.05,
        epochs: int = 100,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        validation: float = 0.1,
        patience: int = 10,
        normalize: str | None = "unit center unit",
        seed: int = 0,
        progress: bool | None = None,
    ):
        self.hidden = hidden
        self.n_blocks = n_blocks
        self.activation = activation
        super().__init__(loss=loss, temperature=temperature, epochs=epochs, batch_size=batch_size, lr=lr,
                         weight_decay=weight_decay, validation=validation, patience=patience, normalize=normalize,
                         seed=seed, progress=progress)

    def _build(self, torch, dx: int, dy: int, h: int, A: np.ndarray, b: np.ndarray):
        nn = torch.nn
        act_cls = nn.SiLU if self.activation == "silu" else nn.ReLU
        L = int(self.n_blocks)
        rng = np.random.default_rng(int(self.seed))

        def init(shape, fan_in):
            return torch.from_numpy((rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32))

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.skip_W = nn.Parameter(torch.from_numpy(A.astype(np.float32)))
                self.skip_b = nn.Parameter(torch.from_numpy(b.astype(np.float32)))
                self.in_W = nn.Parameter(init((dx, h), dx))
                self.in_b = nn.Parameter(torch.zeros(h))
                self.ln_g = nn.Parameter(torch.ones(L, h))
                self.ln_b = nn.Parameter(torch.zeros(L, h))
                self.W1 = nn.Parameter(init((L, h, h), h))
                self.b1 = nn.Parameter(torch.zeros(L, h))
                self.W2 = nn.Parameter(init((L, h, h), h) * 0.5)
                self.b2 = nn.Parameter(torch.zeros(L, h))
                self.out_W = nn.Parameter(torch.zeros(h, dy))  # starts at the linear map
                self.out_b = nn.Parameter(torch.zeros(dy))
                self.act = act_cls()

            def forward(self, x):
                H = x @ self.in_W + self.in_b
                for i in range(L):
                    z = nn.functional.layer_norm(H, (h,), self.ln_g[i], self.ln_b[i])
                    H = H + self.act(z @ self.W1[i] + self.b1[i]) @ self.W2[i] + self.b2[i]
                y = x @ self.skip_W + self.skip_b + H @ self.out_W + self.out_b
                return nn.functional.normalize(y, dim=1)

        return Net()

    @staticmethod
    def _forward_np(state: dict[str, np.ndarray], X: np.ndarray, activation: str) -> np.ndarray:
        H = X @ state["in_W"] + state["in_b"]
        for i in range(state["W1"].shape[0]):
            z = _layer_norm_np(H, state["ln_g"][i], state["ln_b"][i])
            H = H + _act_np(z @ state["W1"][i] + state["b1"][i], activation) @ state["W2"][i] + state["b2"][i]
        return unit_rows(X @ state["skip_W"] + state["skip_b"] + H @ state["out_W"] + state["out_b"])

    def _fit_pairs(self, X: np.ndarray, Y: np.ndarray) -> None:
        self._validate_common()
        if self.activation not in ACTIVATIONS:
            raise VecbridgeError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        torch = _torch()
        dx, dy = X.shape[1], Y.shape[1]
        h = int(self.hidden) if self.hidden is not None else 2 * max(dx, dy)
        if h <= max(dx, dy):
            raise VecbridgeError(
                f"hidden={h} must exceed both dimensions ({dx}, {dy}): a narrower MLP is a bottleneck; "
                f"use at least {max(dx, dy) + 1}"
            )
        Xt, Yt, val = self._prepare(X, Y)
        A, b = lstsq_map(Xt, Yt, ridge=1e-3 * len(Xt) / max(dx, 1), bias=True)
        torch.manual_seed(int(self.seed))
        net = self._build(torch, dx, dy, h, A, b)
        act = self.activation
        state, history = train_torch(
            net, Xt, Yt, val, lambda st: self._forward_np(st, val[0], act) if val else None,
            self.loss, float(self.temperature), int(self.epochs), int(self.batch_size), float(self.lr),
            float(self.weight_decay), int(self.patience), int(self.seed), self.progress, "mlp",
        )
        for k, v in state.items():
            setattr(self, f"{k}_", v)
        best = max((r.get("val_p1", -1) for r in history), default=None)
        self.fit_info_ = {
            **getattr(self, "fit_info_", {}), "hidden": h, "epochs_run": history[-1]["epoch"] if history else 0,
            "history": history, "validation_p1": best if val is not None else None,
            "n_validation_pairs": 0 if val is None else len(val[0]),
        }

    def _state(self) -> dict[str, np.ndarray]:
        keys = ("skip_W", "skip_b", "in_W", "in_b", "ln_g", "ln_b", "W1", "b1", "W2", "b2", "out_W", "out_b")
        return {k: getattr(self, f"{k}_") for k in keys}

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return self._forward_np(self._state(), X, self.activation)

    def _transform_target(self, Y: np.ndarray) -> np.ndarray:
        return unit_rows(Y)


def reduced_rank_map(X: np.ndarray, Y: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed-form reduced-rank regression: ``A`` (dx, r), ``B`` (r, dy), ``b`` (dy,) minimising ``||X A B + b - Y||``.

    The least-squares map projected onto the top-r right singular vectors of its fitted values.
    """
    W, b = lstsq_map(X, Y, ridge=1e-6 * len(X), bias=True)
    W64 = W.astype(np.float64)
    fitted = (np.asarray(X, np.float64) - np.asarray(X, np.float64).mean(axis=0)) @ W64
    _, _, Vt = np.linalg.svd(fitted, full_matrices=False)
    V = Vt[:rank].T  # (dy, r)
    return (W64 @ V).astype(np.float32), V.T.astype(np.float32), b.astype(np.float32)


class LowRankAffine(_NeuralBase):
    """Low-rank affine map ``x A B + b`` (rank r), from reduced-rank regression, optionally trained further.

    Parameters
    ----------
    rank : int
        Inner dimension r (at most ``min(dx, dy)``).
    loss : {"mse", "cosine", "infonce"}
        ``mse`` keeps the closed form (no training); the others train A, B, b
        in torch from it, with early stopping, and normalise the output.
    Other parameters as for :class:`MLPAdapter`.
    """

    method = "lowrank"
    param_ranges = {**_NeuralBase.TRAINING_RANGES, "rank": Range(1)}
    saved_arrays = {"A_": ("in", "r"), "B_": ("r", "out"), "b_": ("out",)}

    def __init__(
        self,
        rank: int = 32,
        loss: str = "cosine",
        temperature: float = 0.05,
        epochs: int = 100,
        batch_size: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        validation: float = 0.1,
        patience: int = 10,
        normalize: str | None = "unit center unit",
        seed: int = 0,
        progress: bool | None = None,
    ):
        self.rank = rank
        super().__init__(loss=loss, temperature=temperature, epochs=epochs, batch_size=batch_size, lr=lr,
                         weight_decay=weight_decay, validation=validation, patience=patience, normalize=normalize,
                         seed=seed, progress=progress)

    def _fit_pairs(self, X: np.ndarray, Y: np.ndarray) -> None:
        self._validate_common()
        dx, dy = X.shape[1], Y.shape[1]
        r = int(self.rank)
        if not 1 <= r <= min(dx, dy):
            raise VecbridgeError(f"rank must be in 1..{min(dx, dy)} (the smaller dimension), got {r}")
        if self.loss == "mse":
            self.A_, self.B_, self.b_ = reduced_rank_map(X, Y, r)
            self.fit_info_ = {**getattr(self, "fit_info_", {}), "trained": False}
            return
        torch = _torch()
        Xt, Yt, val = self._prepare(X, Y)
        A, B, b = reduced_rank_map(Xt, Yt, r)
        nn = torch.nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.A = nn.Parameter(torch.from_numpy(A))
                self.B = nn.Parameter(torch.from_numpy(B))
                self.b = nn.Parameter(torch.from_numpy(b))

            def forward(self, x):
                return nn.functional.normalize((x @ self.A) @ self.B + self.b, dim=1)

        state, history = train_torch(
            Net(), Xt, Yt, val, lambda st: unit_rows((val[0] @ st["A"]) @ st["B"] + st["b"]) if val else None,
            self.loss, float(self.temperature), int(self.epochs), int(self.batch_size), float(self.lr),
            float(self.weight_decay), int(self.patience), int(self.seed), self.progress, "lowrank",
        )
        self.A_, self.B_, self.b_ = state["A"], state["B"], state["b"]
        self.fit_info_ = {
            **getattr(self, "fit_info_", {}), "trained": True, "history": history,
            "epochs_run": history[-1]["epoch"] if history else 0,
            "n_validation_pairs": 0 if val is None else len(val[0]),
        }

    def _transform(self, X: np.ndarray) -> np.ndarray:
        out = (X @ self.A_) @ self.B_ + self.b_
        return unit_rows(out) if self.loss != "mse" else out

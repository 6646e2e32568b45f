"""The adversarial vec2vec model (Jha, Zhang, Shmatikov, Morris 2025), in torch, for two or more spaces.

Architecture (all blocks are residual MLPs, :func:`resmlp_forward`):

- an input adapter ``A_i`` per space (d_i -> d_latent),
- one shared backbone ``T`` (d_latent -> d_latent),
- an output adapter ``B_i`` per space (d_latent -> d_i);

translation from space i to space j is ``B_j(T(A_i(x)))``; reconstruction is
``B_i(T(A_i(x)))``. Trained on *unpaired* samples of every space with

- least-squares GAN losses (Mao et al. 2017) on the outputs (a discriminator per
  space judges translated vectors against real ones) and on the latent (one
  discriminator judges which space a latent came from, the generator wants it
  unable to tell),
- reconstruction ``||B_i T A_i x - x||^2``,
- cycle consistency ``||F_ji F_ij x - x||^2``,
- vector-space preservation (VSP): pairwise cosines inside a batch are kept by
  each translation.

Weights are kept as float32 numpy arrays (``weights_`` flattened into the saved
file as ``vec2vec.<name>``), and ``transform`` runs a numpy forward pass: torch is
only needed to fit. ``device="auto"`` trains on a GPU when torch sees one,
else on the CPU.

Honest expectations: the paper trained on ~1M texts per side for GPU-days and
many seeds failed. On two CPU cores in minutes with a few thousand sentences it
does not converge to a useful map (see docs/unsupervised.md); the CPU path is
kept working end to end and tested on a small setting.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..compute import Compute
from ..errors import VecbridgeError
from .base import Range, UnsupervisedTranslator

PREFIX = "vec2vec."


# -- numpy forward ---------------------------------------------------------------
def _layer_norm(h: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    mu = h.mean(-1, keepdims=True)
    var = h.var(-1, keepdims=True)
    return (h - mu) / np.sqrt(var + eps) * g + b


def _silu(h: np.ndarray) -> np.ndarray:
    return h / (1.0 + np.exp(-h))


def resmlp_forward(weights: dict[str, np.ndarray], name: str, x: np.ndarray, depth: int) -> np.ndarray:
    """Numpy forward of the residual MLP ``name`` (same maths as the torch module :class:`_ResMLP`).

    ``h = x W_in + b_in``; ``depth`` times ``h += silu(LN(h) W1 + b1) W2 + b2``; ``out = LN(h) W_out + b_out``.
    """
    w = lambda k: weights[f"{name}.{k}"]  # noqa: E731
    h = x @ w("inp.weight").T + w("inp.bias")
    for i in range(depth):
        z = _layer_norm(h, w(f"blocks.{i}.norm.weight"), w(f"blocks.{i}.norm.bias"))
        z = _silu(z @ w(f"blocks.{i}.fc1.weight").T + w(f"blocks.{i}.fc1.bias"))
        h = h + z @ w(f"blocks.{i}.fc2.weight").T + w(f"blocks.{i}.fc2.bias")
    h = _layer_norm(h, w("out_norm.weight"), w("out_norm.bias"))
    return (h @ w("out.weight").T + w("out.bias")).astype(np.float32)


def vec2vec_translate(weights: dict[str, np.ndarray], x: np.ndarray, src: int, tgt: int, depth: int) -> np.ndarray:
    """Translate rows x (n, d_src) of space ``src`` into space ``tgt`` with trained weights (numpy)."""
    z = resmlp_forward(weights, f"adapter_in.{src}", np.asarray(x, dtype=np.float32), depth)
    z = resmlp_forward(weights, "backbone", z, depth)
    return resmlp_forward(weights, f"adapter_out.{tgt}", z, depth)


# -- torch modules and training ---------------------------------------------------
def _torch_modules():
    import torch
    from torch import nn

    class _Block(nn.Module):
        def __init__(self, width: int):
            super().__init__()
            self.norm = nn.LayerNorm(width)
            self.fc1 = nn.Linear(width, width)
            self.fc2 = nn.Linear(width, width)

        def forward(self, h):
            return h + self.fc2(torch.nn.functional.silu(self.fc1(self.norm(h))))

    class _ResMLP(nn.Module):
        def __init__(self, d_in: int, d_out: int, width: int, depth: int):
            super().__init__()
            self.inp = nn.Linear(d_in, width)
            self.blocks = nn.ModuleList([_Block(width) for _ in range(depth)])
            self.out_norm = nn.LayerNorm(width)
            self.out = nn.Linear(width, d_out)

        def forward(self, x):
            h = self.inp(x)
            for b in self.blocks:
                h = b(h)
            return self.out(self.out_norm(h))

    class _Disc(nn.Module):
        def __init__(self, d_in: int, width: int):
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(d_in, width), nn.LeakyReLU(0.2), nn.Linear(width, width), nn.LeakyReLU(0.2), nn.Linear(width, 1)
            )

        def forward(self, x):
            return self.net(x).squeeze(-1)

    return torch, nn, _ResMLP, _Disc


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when torch sees a GPU, else ``"cpu"``; other names pass through (checked)."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise VecbridgeError(f"device {device!r} requested but torch sees no GPU; use device='cpu' or 'auto'")
    return device


def train_vec2vec(
    spaces: list[np.ndarray],
    latent_dim: int = 256,
    width: int = 512,
    depth: int = 2,
    steps: int = 2000,
    batch_size: int = 256,
    lr: float = 2e-4,
    loss_weights: dict[str, float] | None = None,
    device: str = "auto",
    seed: int = 0,
    progress: bool | None = False,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Train vec2vec on unpaired samples of two or more spaces.

    spaces: list of arrays (n_i, d_i), one per space (row counts may differ).
    Returns ``(weights, info)``: float32 numpy arrays named ``adapter_in.<i>.*``,
    ``backbone.*``, ``adapter_out.<i>.*`` (for :func:`vec2vec_translate`) and a dict
    with the last losses, steps, device and seconds.
    """
    if len(spaces) < 2:
        raise VecbridgeError(f"vec2vec needs at least two spaces, got {len(spaces)}")
    for i, S in enumerate(spaces):
        if S.ndim != 2 or len(S) < 2:
            raise VecbridgeError(f"space {i} must be a 2-D array with at least 2 rows, got shape {S.shape}")
    torch, nn, ResMLP, Disc = _torch_modules()
    lw = {"adv": 1.0, "latent_adv": 1.0, "rec": 15.0, "cycle": 15.0, "vsp": 2.0}
    if loss_weights:
        unknown = set(loss_weights) - set(lw)
        if unknown:
            raise VecbridgeError(f"unknown loss weights {sorted(unknown)}; known: {sorted(lw)}")
        lw.update(loss_weights)
    dev = resolve_device(device)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    k = len(spaces)
    dims = [int(S.shape[1]) for S in spaces]
    data = [torch.as_tensor(np.asarray(S, dtype=np.float32)).to(dev) for S in spaces]
    a_in = nn.ModuleList([ResMLP(d, latent_dim, width, depth) for d in dims]).to(dev)
    backbone = ResMLP(latent_dim, latent_dim, width, depth).to(dev)
    a_out = nn.ModuleList([ResMLP(latent_dim, d, width, depth) for d in dims]).to(dev)
    d_out = nn.ModuleList([Disc(d, width) for d in dims]).to(dev)
    d_lat = Disc(latent_dim, width).to(dev)
    g_params = list(a_in.parameters()) + list(backbone.parameters()) + list(a_out.parameters())
    opt_g = torch.optim.Adam(g_params, lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(list(d_out.parameters()) + list(d_lat.parameters()), lr=lr, betas=(0.5, 0.999))

    def latent(i, x):
        return backbone(a_in[i](x))

    def batch(i):
        idx = torch.randint(len(data[i]), (batch_size,), generator=gen).to(dev)
        return data[i][idx]

    def cos_matrix(x):
        x = torch.nn.functional.normalize(x, dim=-1)
        return x @ x.T

    from tqdm.auto import tqdm

    t0 = time.perf_counter()
    last: dict[str, float] = {}
    # None: a bar on a terminal only (tqdm's own rule for disable=None)
    bar = tqdm(range(steps), desc="vec2vec", disable=None if progress is None else not progress)
    for _ in bar:
        xs = [batch(i) for i in range(k)]
        # generator step
        zs = [latent(i, xs[i]) for i in range(k)]
        rec = sum(((a_out[i](zs[i]) - xs[i]) ** 2).sum(-1).mean() for i in range(k)) / k
        adv = torch.zeros((), device=dev)
        cyc = torch.zeros((), device=dev)
        vsp = torch.zeros((), device=dev)
        n_pairs = 0
        for i in range(k):
            for j in range(k):
                if i == j:
                    continue
                yij = a_out[j](zs[i])
                adv = adv + ((d_out[j](yij) - 1) ** 2).mean()
                back = a_out[i](latent(j, yij))
                cyc = cyc + ((back - xs[i]) ** 2).sum(-1).mean()
                vsp = vsp + ((cos_matrix(yij) - cos_matrix(xs[i])) ** 2).mean()
                n_pairs += 1
        lat_adv = sum(((d_lat(zs[i]) - (1.0 if i == 0 else 0.0)) ** 2).mean() for i in range(1, k)) / (k - 1)
        g_loss = (lw["adv"] * adv + lw["cycle"] * cyc + lw["vsp"] * vsp) / n_pairs + lw["rec"] * rec + lw["latent_adv"] * lat_adv
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        # discriminator step (least squares: real -> 1, fake -> 0; latent: space 0 -> 1, others -> 0)
        with torch.no_grad():
            zs = [latent(i, xs[i]) for i in range(k)]
            fakes = {(i, j): a_out[j](zs[i]) for i in range(k) for j in range(k) if i != j}
        d_loss = torch.zeros((), device=dev)
        for (i, j), f in fakes.items():
            d_loss = d_loss + ((d_out[j](xs[j]) - 1) ** 2).mean() + (d_out[j](f) ** 2).mean()
        d_loss = d_loss / len(fakes)
        d_loss = d_loss + ((d_lat(zs[0]) - 1) ** 2).mean() + sum((d_lat(zs[i]) ** 2).mean() for i in range(1, k)) / (k - 1)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        last = {"rec": rec.item(), "cycle": cyc.item() / n_pairs, "vsp": vsp.item() / n_pairs,
                "adv": adv.item() / n_pairs, "latent_adv": lat_adv.item(), "disc": d_loss.item()}
        if not bar.disable:
            bar.set_postfix({k_: round(v, 3) for k_, v in last.items()})
    weights: dict[str, np.ndarray] = {}
    for prefix, mod in (("adapter_in", a_in), ("backbone", backbone), ("adapter_out", a_out)):
        for name, p in mod.state_dict().items():
            weights[f"{prefix}.{name}"] = p.detach().cpu().numpy().astype(np.float32)
    info = {"steps": steps, "device": dev, "seconds": round(time.perf_counter() - t0, 2),
            "last_losses": {k_: round(v, 5) for k_, v in last.items()}, "spaces": len(spaces), "dims": dims}
    return weights, info


class Vec2Vec(UnsupervisedTranslator):
    """Adversarial vec2vec translator between two unpaired spaces (see the module doc).

    Parameters
    ----------
    latent_dim, width, depth : network sizes (residual MLPs of ``depth`` blocks).
    steps : int, default 2000
        training steps (one generator and one discriminator update each).
    batch_size : int, default 256
    lr : float, default 2e-4
    loss_weights : dict, optional
        overrides of ``{"adv": 1, "latent_adv": 1, "rec": 15, "cycle": 15, "vsp": 2}``.
    device : "auto" (GPU when present), "cpu" or "cuda[:i]"
    normalize : str, default "unit center unit"
    seed : int, default 0
    progress : bool or None, default False
        None: a progress bar on a terminal only.
    """

    method = "vec2vec"
    param_ranges = {"latent_dim": Range(1), "width": Range(1), "depth": Range(1), "steps": Range(1),
                    "batch_size": Range(1), "lr": Range(0, low_open=True)}
    saved_prefixes = (PREFIX,)
    saved_arrays: dict = {}

    def __init__(
        self,
        latent_dim: int = 256,
        width: int = 512,
        depth: int = 2,
        steps: int = 2000,
        batch_size: int = 256,
        lr: float = 2e-4,
        loss_weights: dict | None = None,
        device: str = "auto",
        normalize: str | None = "unit center unit",
        seed: int = 0,
        progress: bool | None = False,
    ):
        self.latent_dim = latent_dim
        self.width = width
        self.depth = depth
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.loss_weights = loss_weights
        self.device = device
        self.normalize = normalize
        self.seed = seed
        self.progress = progress

    def _fit_unpaired(self, X: np.ndarray, Y: np.ndarray, known: np.ndarray | None) -> None:
        if known is not None:
            raise VecbridgeError("vec2vec has no few-pair mode; use spectral-match or cluster-match with known pairs")
        Compute.for_device(str(self.device)).resolve_backend()  # an unknown or missing device: a ParameterError
        weights, info = train_vec2vec(
            [X, Y], latent_dim=int(self.latent_dim), width=int(self.width), depth=int(self.depth), steps=int(self.steps),
            batch_size=int(min(self.batch_size, len(X), len(Y))), lr=float(self.lr), loss_weights=self.loss_weights,
            device=str(self.device), seed=self._check_seed(self.seed),
            progress=None if self.progress is None else bool(self.progress),
        )
        self._weights = weights
        from ..selection import map_report

        self.fit_info_["training"] = info
        self.fit_info_["selection"] = map_report(X, Y, mapped=self._transform(X))

    def _transform(self, X: np.ndarray) -> np.ndarray:
        return vec2vec_translate(self._weights, X, 0, 1, int(self.depth))

    def _state_arrays(self) -> dict[str, np.ndarray]:
        arrays = super()._state_arrays()
        arrays.update({PREFIX + k: np.ascontiguousarray(v) for k, v in self._weights.items()})
        return arrays

    @classmethod
    def _from_saved(cls, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> Vec2Vec:
        obj = super()._from_saved(manifest, arrays)
        obj._weights = {k[len(PREFIX):]: v for k, v in arrays.items() if k.startswith(PREFIX)}
        if not obj._weights:
            raise KeyError("vec2vec weights")
        return obj

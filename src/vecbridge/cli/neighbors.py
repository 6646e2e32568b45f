"""``vecbridge neighbors``: nearest keys of a key, in its own space or translated into another."""

from __future__ import annotations

import sys

import numpy as np

from ..errors import ParameterError, VecbridgeError
from ..translators import load_translator
from .options import add_command, add_read_options, add_strict_option, check_space, positive_int, read_input

EXAMPLE = """  vecbridge neighbors glove.txt king -k 10
  vecbridge neighbors glove.txt king --map glove2w2v --target w2v.bin --retrieval csls"""

#: below this mean cosine between the two vectors of the keys EMB and TGT share, ``--target`` without ``--map`` is
#: taken for another model's space (warned): vectors of one space (the same model, or one updated by further
#: training) give the same key a cosine near 1, while two models trained apart, even on the same text with the
#: same settings, have unrelated axes and give it a cosine near 0 (two word2vec models of the BBC corpus: -0.03)
SAME_SPACE_MIN_COSINE = 0.5
#: how many shared keys (the first of EMB) that judgement reads, and how few are too few to judge
SAME_SPACE_SAMPLE = 1000
SAME_SPACE_MIN_KEYS = 5


def add_parser(sub) -> None:
    p = add_command(sub, "neighbors", "List the nearest neighbours of a key.", EXAMPLE, run)
    p.add_argument("emb", metavar="EMB", help="vectors holding KEY")
    p.add_argument("key", metavar="KEY")
    p.add_argument("-k", type=positive_int, default=10, help="how many neighbours")
    p.add_argument("--map", metavar="MAP_DIR", help="translate KEY's vector with this map first (needs --target)")
    p.add_argument("--target", metavar="TGT",
                   help="search these vectors (with --map: the map's target space; without: vectors of EMB's own "
                        "space, else a warning)")
    p.add_argument("--retrieval", default="nn", choices=["nn", "csls", "isf"],
                   help="nn: cosine; csls and isf demote hubs (in EMB's own space, KEY's row and each row's own "
                        "vector are left out of the hubness terms)")
    add_read_options(p, "emb", "target")
    add_strict_option(p)


def shared_key_cosine(emb, space, limit: int = SAME_SPACE_SAMPLE) -> tuple[int, float | None]:
    """How many keys (at most ``limit``, EMB's first) ``emb`` and ``space`` share, and the mean cosine between
    each such key's two vectors (None when there are none, or no pair of non-zero vectors)."""
    keys = [k for k in emb.keys[: max(limit * 20, limit)] if k in space.index][:limit]
    if not keys:
        return 0, None
    A = np.asarray(emb.vectors[[emb.index[k] for k in keys]], dtype=np.float64)
    B = np.asarray(space.vectors[[space.index[k] for k in keys]], dtype=np.float64)
    norms = np.linalg.norm(A, axis=1) * np.linalg.norm(B, axis=1)
    ok = norms > 0
    if not ok.any():
        return len(keys), None
    return len(keys), float(np.mean(np.einsum("ij,ij->i", A[ok], B[ok]) / norms[ok]))


def run(args) -> int:
    from ..retrieval import nearest_neighbors

    if args.map and not args.target:  # an option error, before any file is read
        raise ParameterError(f"--map {args.map} needs --target TGT: the vectors of the map's target space to search "
                             "in (the TGT it was fitted with)")
    translator = load_translator(args.map) if args.map else None
    emb = read_input(args.emb, args.emb_format, args)
    query = emb[args.key][None, :]
    if translator is not None:
        check_space(args, translator, emb.vectors, "source", f"EMB ({args.emb})")
    space = read_input(args.target, args.target_format, args) if args.target else emb
    out_dim = getattr(translator, "n_features_out_", None)
    if out_dim is not None and space.dim != out_dim:
        raise VecbridgeError(f"--target {args.target} holds {space.dim}-d vectors but the map {args.map} translates "
                             f"into a {out_dim}-d space: give as --target the vectors of the map's target space "
                             "(the TGT it was fitted with)")
    if translator is None and space.dim != emb.dim:
        raise VecbridgeError(f"EMB {args.emb} holds {emb.dim}-d vectors and --target {args.target} {space.dim}-d: "
                             "they are different spaces, so KEY's vector cannot be compared with TGT's. Give "
                             "--map MAP_DIR, a map from EMB's space into TGT's (fit one with 'vecbridge fit "
                             f"{args.emb} {args.target} --shared-keys -o MAP_DIR' when both hold the same words), or "
                             "leave --target out to search EMB itself")
    if translator is not None:
        check_space(args, translator, space.vectors, "target", f"--target ({args.target})")
    elif args.target:
        n_shared, cosine = shared_key_cosine(emb, space)
        if n_shared >= SAME_SPACE_MIN_KEYS and cosine is not None and cosine < SAME_SPACE_MIN_COSINE:
            print(f"vecbridge {args.command}: warning: EMB ({args.emb}) and --target ({args.target}) look like two "
                  f"different spaces: {n_shared} keys they share have a mean cosine of {cosine:.2f} between their "
                  f"two vectors (one space: near 1), so raw cosines between EMB and TGT mean "
                  "little; give --map MAP_DIR, a map from EMB's space into TGT's (fit one with 'vecbridge fit "
                  f"{args.emb} {args.target} --shared-keys -o MAP_DIR')", file=sys.stderr)
    if not args.target:  # KEY's own space: its row is left out of the list and of the hubness terms
        if len(emb) < 2:
            raise VecbridgeError(f"{args.key!r} has no neighbours to list: the space holds no other row")
        idx, scores = nearest_neighbors(query, emb.vectors, k=args.k, method=args.retrieval,
                                        self_rows=[emb.index[args.key]])
    else:
        pool = emb.vectors
        targets = space.vectors
        if translator is not None:
            query, pool = translator.transform(query), translator.transform(emb.vectors)
            targets = translator.transform_target(space.vectors)
        idx, scores = nearest_neighbors(query, targets, k=min(args.k, len(space)), method=args.retrieval,
                                        source_pool=pool)
    for i, s in zip(idx[0], scores[0]):
        print(f"{space.keys[i]}\t{s:.4f}")
    return 0

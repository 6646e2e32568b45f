"""``vecbridge neighbors``: nearest keys of a key, in its own space or translated into another."""

from __future__ import annotations

from ..errors import VecbridgeError
from ..translators import load_translator
from .options import add_command, add_read_options, positive_int, read_input

EXAMPLE = """  vecbridge neighbors glove.txt king -k 10
  vecbridge neighbors glove.txt king --map glove2w2v --target w2v.bin --retrieval csls"""


def add_parser(sub) -> None:
    p = add_command(sub, "neighbors", "List the nearest neighbours of a key.", EXAMPLE, run)
    p.add_argument("emb", metavar="EMB", help="vectors holding KEY")
    p.add_argument("key", metavar="KEY")
    p.add_argument("-k", type=positive_int, default=10, help="how many neighbours")
    p.add_argument("--map", metavar="MAP_DIR", help="translate KEY's vector with this map first")
    p.add_argument("--target", metavar="TGT", help="search these vectors (with --map: the map's target space)")
    p.add_argument("--retrieval", default="nn", choices=["nn", "csls", "isf"])
    add_read_options(p, "emb", "target")


def run(args) -> int:
    from ..retrieval import nearest_neighbors

    emb = read_input(args.emb, args.emb_format, args)
    query = emb[args.key][None, :]
    pool = emb.vectors
    if args.map:
        if not args.target:
            raise VecbridgeError("--map needs --target: the vectors of the map's target space to search in")
        translator = load_translator(args.map)
        query, pool = translator.transform(query), translator.transform(emb.vectors)
    space = read_input(args.target, args.target_format, args) if args.target else emb
    out_dim = getattr(translator, "n_features_out_", None) if args.map else None
    if out_dim is not None and space.dim != out_dim:
        raise VecbridgeError(f"--target {args.target} holds {space.dim}-d vectors but the map {args.map} translates "
                             f"into a {out_dim}-d space: give as --target the vectors of the map's target space "
                             "(the TGT it was fitted with)")
    if not args.map and space.dim != emb.dim:
        raise VecbridgeError(f"EMB {args.emb} holds {emb.dim}-d vectors and --target {args.target} {space.dim}-d: "
                             "they are different spaces, so KEY's vector cannot be compared with TGT's. Give "
                             "--map MAP_DIR, a map from EMB's space into TGT's (fit one with 'vecbridge fit "
                             f"{args.emb} {args.target} --shared-keys -o MAP_DIR' when both hold the same words), or "
                             "leave --target out to search EMB itself")
    targets = translator.transform_target(space.vectors) if args.map else space.vectors
    same_space = not args.map and not args.target
    k = min(args.k + int(same_space), len(space))
    idx, scores = nearest_neighbors(query, targets, k=k, method=args.retrieval, source_pool=pool)
    shown = 0
    for i, s in zip(idx[0], scores[0]):
        if same_space and space.keys[i] == args.key:
            continue
        print(f"{space.keys[i]}\t{s:.4f}")
        shown += 1
        if shown == args.k:
            break
    if not shown:
        raise VecbridgeError(f"{args.key!r} has no neighbours to list: the space holds no other row")
    return 0

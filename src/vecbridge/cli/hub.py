"""``vecbridge hub``: one shared space for many embedding spaces (fit, add a space, show). See docs/hub.md.

``vecbridge translate HUB IN -o OUT --from a --to c`` and ``vecbridge evaluate HUB ... --from a --to c`` use a
hub folder where they take a map folder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import ParameterError, VecbridgeError
from .options import (
    add_command,
    add_overwrite,
    add_read_options,
    add_seed,
    fraction_lower,
    info,
    nonnegative_int,
    parse_params,
    positive_int,
    read_input,
)

EXAMPLE = """  vecbridge hub fit --name l6=l6.npy --name l3=l3.npy --name e5=e5.npy --paired -o hub/
  vecbridge hub fit --name a=a.txt --name b=b.txt --name c=c.txt --dictionary items.tsv -o hub/
  vecbridge hub fit --name l6=l6.npy --name l3=l3.npy --name e5=e5.npy --unsupervised -o hub/
  vecbridge hub add hub/ --name d=d.npy --name l6=l6.npy --paired      # d placed against l6; l6 not refitted
  vecbridge hub show hub/
  vecbridge translate hub/ l3_docs.npy -o docs_in_e5.npy --from l3 --to e5"""

#: exit code when too few spaces align (nothing saved)
EXIT_NOT_ALIGNED = 3


def space_file(text: str) -> tuple[str, str]:
    """An argparse type: ``NAME=FILE``, NAME a space name (letters, digits, ``_ - .``; it becomes a key)."""
    from ..hub import check_space_name

    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"must be NAME=FILE (e.g. l6=l6.npy), got {text!r}")
    try:
        check_space_name(name)
    except ParameterError:
        raise argparse.ArgumentTypeError(
            f"must be NAME=FILE with NAME letters, digits, '_', '-' and '.', starting with a letter or digit, "
            f"without '/', '\\' or '..' (it names the space inside the hub, never a path), got {text!r}") from None
    return name, path


def _pairing(p: argparse.ArgumentParser) -> None:
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--paired", action="store_true", help="row i of every file is the same item")
    how.add_argument("--dictionary", metavar="ITEMS.tsv",
                     help="a header row of space names (tab-separated), then one item per row: its key in each "
                          "space, empty cells allowed; fewer items than the shared dimension: few-pair mode")
    how.add_argument("--unsupervised", action="store_true",
                     help="no pairs at all: pairless edges (a spanning set chosen by the verdict), synchronised")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", action="append", type=space_file, required=True, metavar="NAME=FILE",
                   help="a space and its vectors (repeatable)")
    _pairing(p)
    p.add_argument("--method", default=None,
                   help="method of pairless edges (default: auto when available, else cluster-match)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="a hyper-parameter of that method (repeatable; with --kind vec2vec: of vec2vec)")
    p.add_argument("--validation", type=fraction_lower, default=0.2,
                   help="share of the items seen in several spaces held out to judge each space (default 0.2)")
    p.add_argument("--max-edge-tries", type=positive_int, default=3,
                   help="pairless edges tried per space before it is left out (default 3)")
    add_seed(p, 0, "the fit (the edges' starts, the held-out draw)")
    p.add_argument("--force", action="store_true",
                   help="keep spaces judged not aligned (otherwise they are left out with the reason; exit code 3 "
                        "when fewer than two spaces remain)")
    add_overwrite(p, "an existing hub in the output folder")
    add_read_options(p, "space")


def add_parser(sub) -> None:
    p = add_command(sub, "hub", "One shared space for many embedding spaces: translate between any two.",
                    EXAMPLE, lambda args: _no_action(p))
    hs = p.add_subparsers(dest="hub_command", metavar="ACTION")
    f = hs.add_parser("fit", help="fit a hub over two or more spaces", description="Fit a hub over two or more "
                      "spaces.", epilog=f"example:\n{EXAMPLE}", formatter_class=p.formatter_class)
    f.set_defaults(func=run_fit, command="hub fit")  # errors read "vecbridge hub fit: error: ..."
    f.add_argument("-o", "--output", required=True, metavar="HUB_DIR", help="folder to write the hub to")
    f.add_argument("--kind", default="linear", choices=["linear", "vec2vec"],
                   help="linear (one semi-orthogonal map per space) or vec2vec (the adversarial N-space model; "
                        "with --unsupervised only)")
    f.add_argument("--shared-dim", type=positive_int, default=None,
                   help="dimension of the shared space (default: the largest space's; linear)")
    f.add_argument("--normalize", default="unit center unit",
                   help='normalisation of every space (default "unit center unit")')
    f.add_argument("--extra-edges", type=nonnegative_int, default=0,
                   help="pairless edges beyond the spanning set, closing cycles for the synchronisation (default 0)")
    _common(f)
    a = hs.add_parser("add", help="add a space to a hub without refitting the others",
                      description="Add a space to a hub without refitting the others. Give the new space and at "
                                  "least one space already in the hub (its vectors place the new one).",
                      epilog=f"example:\n{EXAMPLE}", formatter_class=p.formatter_class)
    a.set_defaults(func=run_add, command="hub add")  # errors read "vecbridge hub add: error: ..."
    a.add_argument("hub", metavar="HUB_DIR")
    a.add_argument("-o", "--output", default=None, metavar="HUB_DIR",
                   help="write the grown hub here (default: replace HUB_DIR)")
    _common(a)
    s = hs.add_parser("show", help="print a hub's spaces, verdicts and left-out spaces",
                      description="Print a hub's spaces, verdicts and left-out spaces.")
    s.set_defaults(func=run_show, command="hub show")  # errors read "vecbridge hub show: error: ..."
    s.add_argument("hub", metavar="HUB_DIR")
    s.add_argument("--json", action="store_true", help="print the manifest's summary as one JSON object")


def _no_action(p) -> int:
    p.print_usage(sys.stderr)
    print("vecbridge hub: error: say what to do: fit, add or show", file=sys.stderr)
    return 2


def _named_inputs(args) -> dict[str, str]:
    named: dict[str, str] = {}
    for name, path in args.name:
        if name in named:
            raise ParameterError(f"--name {name} is given twice; every space needs its own name")
        named[name] = path
    return named


def _read(args, named: dict[str, str]):
    return {n: read_input(path, args.space_format, args, name="space") for n, path in named.items()}


def _items(args, spaces, ignore_columns=()):
    """``items`` for Hub.fit / Hub.add from the pairing flags (None: unsupervised)."""
    from ..hub.pairing import paired_items, read_table, table_items

    if args.unsupervised:
        return None
    if args.paired:
        return paired_items({n: len(e) for n, e in spaces.items()})
    columns, rows = read_table(args.dictionary, encoding=getattr(args, "encoding", None) or "utf-8")
    items, report = table_items(columns, rows, spaces, ignore_columns=ignore_columns)
    parts = [f"{n}: {r['found']} found" + (f", {r['missing']} missing (first: {r.get('first_missing')!r})"
                                           if r["missing"] else "") + (f", {r['repeated']} repeated" if r["repeated"] else "")
             for n, r in report.items() if isinstance(r, dict)]
    info(args, f"{args.dictionary}: {report['rows']} items; " + "; ".join(parts))
    return items


def _hub_params(args, kind: str) -> dict:
    params = parse_params(args.param)
    out = {"seed": args.seed, "validation": args.validation, "max_edge_tries": args.max_edge_tries}
    if kind == "vec2vec":
        out["vec2vec_params"] = params or None
    else:
        out["method"] = args.method
        out["method_params"] = params or None
    return out


def _refused(e, what: str) -> int:
    print(f"vecbridge hub {what}: {e}", file=sys.stderr)
    for x in getattr(e, "excluded", []):
        print(f"  left out {x['name']}: {x.get('reason')}", file=sys.stderr)
    print(f"Nothing saved (exit code {EXIT_NOT_ALIGNED}); --force keeps spaces judged not aligned.", file=sys.stderr)
    return EXIT_NOT_ALIGNED


def run_fit(args) -> int:
    from ..hub import Hub, HubNotAlignedError, check_hub_output
    from .options import check_output

    named = _named_inputs(args)
    if len(named) < 2:
        raise VecbridgeError("a hub needs at least two spaces: give --name NAME=FILE for each")
    check_output(args.output, *named.values(), what="HUB_DIR")
    check_hub_output(args.output, args.overwrite)
    if args.kind == "vec2vec" and not args.unsupervised:
        raise VecbridgeError("--kind vec2vec is fitted without pairs; give --unsupervised")
    if args.kind == "vec2vec" and args.method:
        raise VecbridgeError("--method chooses the pairless edges of a linear hub; vec2vec takes --param only")
    hub = Hub(kind=args.kind, shared_dim=args.shared_dim, normalize=args.normalize, extra_edges=args.extra_edges,
              **_hub_params(args, args.kind)).check_params()
    spaces = _read(args, named)
    items = _items(args, spaces)
    try:
        hub.fit(spaces, items, force=args.force, progress=False if args.quiet else None)
    except HubNotAlignedError as e:
        return _refused(e, "fit")
    _note_unused_method(args, hub.fit_info_.get("mode", ""),
                        f"{hub.fit_info_.get('items_in_two_or_more_spaces')} items in two or more spaces (at least the "
                        f"shared dimension {hub.shared_dim_}) place the spaces by generalised Procrustes")
    for x in hub.excluded_:
        print(f"vecbridge hub fit: warning: left out {x['name']}: {x.get('reason')}", file=sys.stderr)
    hub.fit_info_["files"] = named
    path = hub.save(args.output, overwrite=args.overwrite)
    info(args, _summary(hub) + f"\nfitted in {hub.fit_info_['fit_seconds']:.1f} s; saved to {path}")
    return 0


def run_add(args) -> int:
    from ..hub import HubNotAlignedError, check_hub_output, load_hub
    from .options import check_output

    named = _named_inputs(args)
    hub = load_hub(args.hub)
    new = [n for n in named if n not in hub.spaces_]
    if not new:
        given = [f"'{n}'" for n in named]
        given = given[0] if len(given) == 1 else ", ".join(given[:-1]) + " and " + given[-1]
        raise VecbridgeError(
            f"{given} {'is' if len(named) == 1 else 'are'} already in the hub (its spaces: {', '.join(hub.names)}): "
            "hub add places one new space against spaces of the hub; give the new space with another --name, or "
            "fit the hub again with 'vecbridge hub fit' to refit a space it has")
    if len(new) != 1:
        raise VecbridgeError(
            f"give exactly one new space with --name (the others must be spaces of the hub, to place it); got "
            f"{len(new)} new: {', '.join(new) or 'none'} (the hub's spaces: {', '.join(hub.names)})")
    out = args.output or args.hub
    replaces = Path(out).resolve() == Path(args.hub).resolve()  # the default: the grown hub replaces HUB_DIR
    check_output(out, *([] if replaces else [args.hub]), *named.values(), what="-o" if args.output else "HUB_DIR")
    if args.output:
        check_hub_output(out, args.overwrite)
    hub.seed, hub.validation, hub.max_edge_tries = args.seed, args.validation, args.max_edge_tries
    params = parse_params(args.param)
    if args.method or params:  # the saved parameters go with the saved method only
        same = (args.method or hub.method) == hub.method
        hub.method, hub.method_params = args.method or hub.method, params or (hub.method_params if same else None)
    hub.check_params()
    spaces = _read(args, named)
    items = _items(args, spaces, ignore_columns=hub.names)
    name = new[0]
    try:
        hub.add(name, spaces[name], {n: e for n, e in spaces.items() if n != name}, items, force=args.force)
    except HubNotAlignedError as e:
        return _refused(e, "add")
    path = hub.save(out, overwrite=True if not args.output else args.overwrite)
    sp = hub.space(name)
    enough = f"{name}'s dimension {sp.dim}" if sp.dim <= hub.shared_dim_ else f"the shared dimension {hub.shared_dim_}"
    _note_unused_method(args, sp.info.get("mode", ""), f"{sp.info.get('shared_items')} items {name} shares with the "
                        f"hub's spaces (at least {enough}) place it by Procrustes onto their consensus")
    info(args, f"added {name} ({sp.dim}-d; verdict {sp.info.get('verdict')}, confidence {sp.info.get('confidence')}, "
               f"{sp.info.get('mode')}); saved to {path}")
    return 0


def _note_unused_method(args, mode: str, why: str) -> None:
    """A note when --method / --param were given but items placed the spaces (``mode`` "pairs ..."): no edges."""
    given = ([f"--method {args.method}"] if args.method else []) + [f"--param {p}" for p in args.param or []]
    if given and mode.startswith("pairs"):
        one = len(given) == 1
        named = given[0] if one else ", ".join(given[:-1]) + " and " + given[-1]
        info(args, f"note: {named} {'chooses' if one else 'choose'} the method of pairless edges; here "
                   f"{why}, so {'it has' if one else 'they have'} no effect")


def _summary(hub) -> str:
    lines = [f"hub ({hub.kind}, shared space {hub.shared_dim_}-d, {hub.fit_info_.get('mode', hub.kind)}):"]
    for s in hub.spaces_.values():
        conf = s.info.get("confidence")
        lines.append(f"  {s.name:<16} {s.dim:>5}-d  verdict {s.info.get('verdict', '-')}"
                     + (f" (confidence {conf})" if conf is not None else "") + f"  joined by {s.info.get('joined')}")
    for x in hub.excluded_:
        lines.append(f"  left out {x['name']}: {x.get('reason')}")
    return "\n".join(lines)


def run_show(args) -> int:
    from ..hub import load_hub

    hub = load_hub(args.hub)
    if args.json:
        print(json.dumps({"kind": hub.kind, "shared_dim": hub.shared_dim_,
                          "spaces": [{"name": s.name, "dim": s.dim, **{k: s.info.get(k) for k in
                                      ("verdict", "confidence", "joined", "rows")}} for s in hub.spaces_.values()],
                          "excluded": hub.excluded_, "mode": hub.fit_info_.get("mode")}))
    else:
        print(_summary(hub))
    return 0

"""``vecbridge translate``: apply a saved map to a file of vectors."""

from __future__ import annotations

from ..translators import load_translator
from .options import add_command, add_read_options, info, read_input

EXAMPLE = """  vecbridge translate glove2w2v glove.txt -o glove_in_w2v.txt --format word2vec
  vecbridge translate old2new docs.parquet -o docs_new.parquet     # streams; re-run to resume"""


def add_parser(sub) -> None:
    p = add_command(sub, "translate", "Translate vectors with a saved map.", EXAMPLE, run)
    p.add_argument("map", metavar="MAP_DIR", help="a map written by 'vecbridge fit'")
    p.add_argument("input", metavar="IN", help="source-space vectors (any supported format)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="where to write the translated vectors")
    p.add_argument("--format", default=None, help="output format (default: from OUT's extension, else word2vec)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    add_read_options(p, "in")
    s = p.add_argument_group("streaming (Parquet or .npy in and out: chunked, flat memory, resumable)")
    s.add_argument("--chunk-rows", type=int, default=None, help="rows per chunk (default: from a 128 MiB budget)")
    s.add_argument("--restart", action="store_true", help="discard a partial run of this OUT instead of resuming it")
    s.add_argument("--device", default="cpu", help="cpu (numpy), auto (a GPU through torch when present), cuda, ...")


def run(args) -> int:
    from ..io import write_embeddings

    from ..stream import stream_format, translate_file

    translator = load_translator(args.map)
    if args.limit is None and stream_format(args.input, args.in_format) and stream_format(args.output, args.format):
        report = translate_file(
            translator, args.input, args.output, input_format=args.in_format, output_format=args.format,
            chunk_rows=args.chunk_rows, on_error="skip" if args.lenient else "raise", overwrite=args.overwrite,
            resume=not args.restart, device=args.device, progress=False if args.quiet else None,
        )
        info(args, report.summary())
        return 0
    emb = read_input(args.input, args.in_format, args)
    out = translator.transform(emb)
    target_name = translator.manifest()["target"]["name"]
    out.meta["name"] = f"{emb.name} -> {target_name}" if target_name else emb.name
    path = write_embeddings(out, args.output, format=args.format, overwrite=args.overwrite)
    info(args, f"translated {len(out)} vectors {emb.dim}-d -> {out.dim}-d; wrote {path}")
    return 0

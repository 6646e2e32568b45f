"""``vecbridge translate``: apply a saved map to a file of vectors."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ParameterError
from ..translators.base import Translator
from .options import (
    check_device,
    add_command,
    add_device,
    add_overwrite,
    add_read_options,
    add_strict_option,
    check_output,
    check_space,
    format_flag,
    info,
    output_format,
    positive_int,
    read_input,
    read_settings,
)

EXAMPLE = """  vecbridge translate glove2w2v glove.txt -o glove_in_w2v.txt --format word2vec
  vecbridge translate old2new docs.parquet -o docs_new.parquet     # streams; re-run to resume
  vecbridge translate old2new docs.npy -o docs_new.npy --space target   # the new model's own coordinates"""


def add_parser(sub) -> None:
    p = add_command(sub, "translate", "Translate vectors with a saved map.", EXAMPLE, run)
    p.add_argument("map", metavar="MAP_DIR", help="a map written by 'vecbridge fit', or a hub (with --from / --to)")
    p.add_argument("--from", dest="from_space", default=None, metavar="SPACE", help="a hub's space of IN")
    p.add_argument("--to", dest="to_space", default=None, metavar="SPACE", help="a hub's space to translate into")
    p.add_argument("input", metavar="IN", help="source-space vectors (any supported format)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="where to write the translated vectors")
    p.add_argument("--format", type=output_format, default=None,
                   help="output format (default: from OUT's extension: .vec/.txt word2vec text, .bin binary, .npy, "
                        ".npz, .parquet, .kv gensim; name it for any other extension)")
    p.add_argument("--space", choices=["map", "target"], default="map",
                   help="the space of OUT's vectors: map (default), the map's output space (the target's space after "
                        "the map's normalisation; for a hub, the --to space as the hub normalises it); target, the "
                        "target model's own coordinates (that normalisation undone), as 'vecbridge migrate' writes "
                        "them and as the new model's own vectors are")
    add_overwrite(p, "OUT")
    add_read_options(p, "in")
    add_strict_option(p)
    s = p.add_argument_group("streaming (Parquet or .npy in and out: chunked, flat memory, resumable)")
    s.add_argument("--chunk-rows", type=positive_int, default=None,
                   help="rows per chunk (default: from a 128 MiB budget)")
    s.add_argument("--restart", action="store_true", help="discard a partial run of this OUT instead of resuming it")
    add_device(p)


def run(args) -> int:
    from ..io import write_embeddings
    from ..io.detect import FORMAT_NAMES, format_from_extension
    from ..stream import batch_function, stream_format, translate_file

    check_device(args.device)
    check_output(args.output, args.input, args.map)
    if args.format is None and format_from_extension(args.output) is None:  # before the work, not after it
        raise ParameterError(f"-o {args.output}: cannot tell the output format from the file name; end it in .vec, "
                             f".txt, .bin, .npy, .npz, .parquet or .kv, or name it with --format (one of "
                             f"{', '.join(FORMAT_NAMES)})")
    from ..hub import load_map

    translator = load_map(args.map, args.from_space, args.to_space)  # a map folder, or a hub with --from / --to
    if args.space == "target" and not translator.output_in_target_space():
        raise ParameterError(f"--space target: the map {args.map} translates into a shared space, not the target "
                             "model's own, so it has no target coordinates to give; leave out --space")
    if args.limit is None and stream_format(args.input, args.in_format) and stream_format(args.output, args.format):
        from ..io import read_embeddings

        cols = read_settings(args, "in")
        import warnings

        from ..io import ReadWarning

        with format_flag("--in-format"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ReadWarning)  # a sample: the streamed run reads and reports the file
            head = read_embeddings(args.input, format=args.in_format, limit=2000, progress=False,
                                   on_error="skip" if args.lenient else "raise", **cols)
        check_space(args, translator, head.vectors, "source", f"IN ({args.input})")
        target = args.space == "target"  # the device runs the map; the target normalisation is undone after it
        report = translate_file(
            TargetCoordinates(translator, args.device) if target else translator, args.input, args.output,
            input_format=args.in_format, output_format=args.format,
            key_column=cols.get("key_column"), vector_column=cols.get("vector_column"),
            encoding=cols.get("encoding", "utf-8"),
            chunk_rows=args.chunk_rows, on_error="skip" if args.lenient else "raise", overwrite=args.overwrite,
            resume=not args.restart, device="cpu" if target else args.device, progress=False if args.quiet else None,
        )
        info(args, report.summary())
        return 0
    if args.chunk_rows is not None or args.restart:
        info(args, f"note: --chunk-rows and --restart apply to streaming (.parquet / .npy in and out); "
                   f"{args.input} -> {args.output} is translated in memory")
    if not args.overwrite:
        from ..atomic import check_writable

        check_writable(args.output, False)  # refused now, not after reading and translating IN
    transform = batch_function(translator, args.device)  # the device applies here too (linear maps)
    if args.space == "target":
        transform = TargetCoordinates(translator, args.device).transform
    emb = read_input(args.input, args.in_format, args)
    check_space(args, translator, emb.vectors, "source", f"IN ({args.input})")
    out = emb.with_vectors(transform(emb.vectors), translated_by=translator.method)
    target_name = translator.manifest()["target"]["name"]
    out.meta["name"] = f"{emb.name} -> {target_name}" if target_name else emb.name
    path = write_embeddings(out, args.output, format=args.format, overwrite=args.overwrite)
    info(args, f"translated {len(out)} vectors {emb.dim}-d -> {out.dim}-d; wrote {path}")
    return 0


class TargetCoordinates(Translator):
    """``--space target``: a map's batch function (on ``device``), then :meth:`Translator.to_target_space` (in
    numpy): the target model's own coordinates, as ``vecbridge migrate`` writes them. Given to
    :func:`vecbridge.stream.translate_file` in place of the map (with ``device="cpu"``: the device is used here),
    it has its own fingerprint, so a partial run of the other ``--space`` is not resumed into this one; its
    ``output_space`` is recorded in the run's journal, so that the refusal names ``--space``."""

    #: the space its output is in (:func:`vecbridge.stream.output_space`)
    output_space = "target"

    def __init__(self, inner: Any = None, device: str = "cpu"):
        from ..stream import batch_function

        self.inner, self.method = inner, inner.method
        self.n_features_in_, self.n_features_out_ = inner.n_features_in_, inner.n_features_out_
        self.source_normalizer_, self.target_normalizer_ = inner.source_normalizer_, inner.target_normalizer_
        self.fit_info_ = getattr(inner, "fit_info_", {})
        if hasattr(inner, "scale_"):
            self.scale_ = inner.scale_
        self._run = batch_function(inner, device)

    def get_params(self) -> dict[str, Any]:
        return {"map": self.inner.get_params(), "space": "target"}

    def _state_arrays(self) -> dict[str, np.ndarray]:
        return self.inner._state_arrays()

    def manifest(self) -> dict[str, Any]:
        return self.inner.manifest()

    def transform(self, X: Any) -> Any:
        return self.inner.to_target_space(self._run(X))

    def output_in_target_space(self) -> bool:
        return False  # its output is the target model's own coordinates already

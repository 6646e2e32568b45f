"""``vecbridge audit``: what a leaked set of embeddings gives away once it is translated into a known space."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import FormatError, ParameterError, VecbridgeError
from ..io.files import split_lines
from .embed import read_texts
from .options import (
    add_command,
    add_overwrite,
    add_quiet,
    add_seed,
    check_output,
    column_name,
    encoding_name,
    info,
    int_range,
    nonnegative_int,
    positive_int,
    unit_interval,
)

EXAMPLE = """  vecbridge audit leaked.npy --encoder minilm-l6 --public public.txt --attributes topics.txt -o audit/
  vecbridge audit leaked.npy --encoder minilm-l6 --public public.txt --attributes topics.txt \\
      --truth truth.txt --texts leaked_texts.txt --defence noise=0.05 --defence rotate -o audit/ --max-leak 0.2 \\
      --json"""

#: exit code when the attribute leak exceeds --max-leak
EXIT_LEAK = 4


def add_parser(sub) -> None:
    p = add_command(sub, "audit", "Audit leaked embeddings: translate them into a known encoder's space without "
                    "pairs, then infer attributes and recover words (see docs/audit.md).", EXAMPLE, run)
    p.add_argument("leaked", metavar="LEAKED", help="vectors of an unknown encoder, no texts (.npy, Parquet, ...)")
    p.add_argument("--encoder", required=True,
                   help="an encoder the auditor can run (see 'vecbridge data encoders'), or st:/path/to/folder")
    p.add_argument("--public", required=True, metavar="TEXTS",
                   help="unlabelled texts of a similar domain (.txt one per line, or a .csv/.tsv/.parquet column)")
    p.add_argument("--attributes", required=True, metavar="FILE",
                   help="one attribute description per line (e.g. 'a news story about sport')")
    p.add_argument("--truth", metavar="FILE", default=None,
                   help="one line per row of LEAKED: its attribute, as its line of --attributes or that line's "
                        "0-based index")
    p.add_argument("--texts", metavar="FILE", default=None,
                   help="one line per row of LEAKED: its true text (word recovery and the ideal baseline)")
    p.add_argument("--defence", action="append", default=None, metavar="SPEC",
                   help="a defence applied to LEAKED before the attack (repeatable): noise=SIGMA, rotate, "
                        "quantize=BITS, drop=FRACTION, or several joined by + (noise=0.05+rotate)")
    p.add_argument("-o", "--output", default=None, metavar="DIR",
                   help="folder for report.json, predictions.jsonl and report.html (new or empty, or --overwrite)")
    p.add_argument("--max-leak", type=unit_interval, default=None, metavar="X",
                   help=f"exit code {EXIT_LEAK} when attribute top-1 minus chance exceeds X (needs --truth)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    a = p.add_argument_group("the attack")
    a.add_argument("--method", default="auto",
                   help="the unsupervised method: auto (default), cluster-match, spectral-match, selflearn")
    a.add_argument("--fit-rows", type=int_range(20), default=8000, metavar="N",
                   help="at most N rows of each side fit the map (default 8000); every row is translated")
    a.add_argument("--nearest", type=positive_int, default=3, metavar="K", help="public texts listed per row (3)")
    a.add_argument("--vocabulary", type=positive_int, default=300, metavar="N",
                   help="words of the bag-of-words probe (default 300)")
    a.add_argument("--bootstrap", type=nonnegative_int, default=1000, metavar="N",
                   help="resamples of the 95%% intervals (default 1000; 0: none)")
    add_seed(a)
    r = p.add_argument_group("reading the inputs")
    r.add_argument("--leaked-format", default=None, help="format of LEAKED (default: detected from content)")
    r.add_argument("--key-column", type=column_name, default=None, help="Parquet: the key column (default: detected)")
    r.add_argument("--vector-column", type=column_name, default=None,
                   help="Parquet: the vector column (default: detected)")
    r.add_argument("--text-column", default="text", help="column of the texts when --public is CSV or Parquet")
    r.add_argument("--encoding", type=encoding_name, default="utf-8",
                   help="text encoding of the text files (default utf-8), e.g. latin-1")
    add_overwrite(p, "report.json, predictions.jsonl and report.html in the -o folder")
    add_quiet(p)


def read_lines(path: str, flag: str, encoding: str = "utf-8", allow_blank: bool = False) -> list[str]:
    """The lines of a text file, one entry per line (trailing blank lines dropped); a blank line elsewhere is
    an error unless ``allow_blank``."""
    p = Path(path)
    if not p.exists():
        raise VecbridgeError(f"{flag} {path}: no such file")
    if p.is_dir():
        raise VecbridgeError(f"{flag} {path} is a folder; give a text file")
    raw = p.read_bytes()
    try:
        text = raw.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise FormatError(f"{flag}: byte {raw[e.start:e.start + 1]!r} is not valid {encoding} text ({e.reason}); "
                          "name the file's encoding with --encoding", p, line) from None
    lines = split_lines(text)  # a form feed or U+2028 inside an entry does not split it
    while lines and not lines[-1].strip():
        lines.pop()
    if not allow_blank:
        for i, line in enumerate(lines, 1):
            if not line.strip():
                raise FormatError(f"{flag}: line {i} is blank; write one entry per line", p, i)
    return lines


#: the methods --method takes (fitted without pairs)
METHODS = ("auto", "cluster-match", "spectral-match", "selflearn")


def check_method(method: str, seed: int) -> None:
    """``--method`` as a usage error (exit code 2) before any work: an unknown name, or a method needing pairs."""
    from ..audit.attack import make_attack_translator
    from ..translators.registry import translator_class

    try:
        translator_class(method)
    except VecbridgeError:
        raise ParameterError(f"--method {method!r} is not a method; the audit fits without pairs: use "
                             f"{', '.join(METHODS[:-1])} or {METHODS[-1]}") from None
    make_attack_translator(method, seed)  # a method needing pairs: a usage error naming --method


def run(args) -> int:
    from ..audit import FILES, check_audit_folder, parse_defence, run_audit
    from ..audit.engine import not_aligned_warning
    from ..encoders import get_encoder
    from ..io import read_embeddings

    if args.max_leak is not None and args.truth is None:
        raise ParameterError("--max-leak without --truth: the gate compares the attribute top-1 with chance, which "
                             "needs the true attribute of each row of LEAKED")
    defences = [parse_defence(s) for s in args.defence or []]
    check_method(args.method, args.seed)
    encoder = get_encoder(args.encoder)  # a name is checked now; the model loads when first used
    if args.output is not None:
        inputs = (args.leaked, args.public, args.attributes, args.truth, args.texts)
        check_output(args.output, *inputs, what="-o")
        for name in FILES:  # the files the audit writes into -o are never inputs, even with --overwrite
            check_output(Path(args.output) / name, *inputs, what=f"-o {args.output}: its {name}")
        check_audit_folder(args.output, args.overwrite)
    attributes = read_lines(args.attributes, "--attributes", args.encoding)
    if not attributes:
        raise VecbridgeError(f"--attributes file is empty ({args.attributes}): give one description per line "
                             "(e.g. 'a news story about sport')")
    leaked = read_embeddings(args.leaked, format=args.leaked_format, key_column=args.key_column,
                             vector_column=args.vector_column, encoding=args.encoding,
                             progress=False if args.quiet else None)
    truth = read_lines(args.truth, "--truth", args.encoding) if args.truth else None
    if truth is not None and len(truth) != len(leaked):
        raise VecbridgeError(f"--truth has {len(truth)} lines but LEAKED has {len(leaked)} rows; give one attribute "
                             "per row")
    texts = read_lines(args.texts, "--texts", args.encoding) if args.texts else None
    if texts is not None and len(texts) != len(leaked):
        raise VecbridgeError(f"--texts has {len(texts)} lines but LEAKED has {len(leaked)} rows; give one text per row")
    _, public, skipped = read_texts(args.public, args.text_column, encoding=args.encoding)
    if not public:
        raise VecbridgeError(f"--public file has no texts ({args.public})")
    if skipped:
        info(args, f"--public: skipped {skipped} empty texts")
    report = run_audit(leaked, encoder, public, attributes, truth=truth, texts=texts, defences=defences,
                       method=args.method, max_leak=args.max_leak, fit_rows=args.fit_rows, n_nearest=args.nearest,
                       vocabulary_size=args.vocabulary, n_bootstrap=args.bootstrap, seed=args.seed,
                       progress=False if args.quiet else None)
    s = report.summary
    warning = None
    if s["translation"]["verdict"] == "not aligned":
        warning = not_aligned_warning(s.get("attribute") or {}, len(leaked))  # also the report's first note
    if args.output is not None:
        folder = report.write(args.output, overwrite=args.overwrite)
        info(args, f"wrote {folder / 'report.json'}, predictions.jsonl and report.html")
    if warning is not None:
        print("vecbridge audit: warning: " + warning, file=sys.stderr)
    if args.json:
        print(json.dumps(s, ensure_ascii=False))
    else:
        print(summary_text(s))
    gate = s.get("gate")
    if gate and gate["failed"]:
        print(f"vecbridge audit: leak gate failed: attribute top-1 minus chance is {gate['leak']:.3f} > --max-leak "
              f"{gate['max_leak']:g} (exit code {EXIT_LEAK})", file=sys.stderr)
        return EXIT_LEAK
    return 0


def _f(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _ci(ci) -> str:
    return "" if not ci else f" [{ci[0]:.3f}, {ci[1]:.3f}]"


def summary_text(s: dict) -> str:
    """The summary as a few lines of text."""
    tr, a, w, n = s["translation"], s["attribute"], s["words"], s["nearest"]
    conf = "" if tr.get("confidence") is None else f" (confidence {tr['confidence']:.2f})"
    lines = [
        f"LEAKED: {s['rows']} vectors, {s['dims']['leaked']}-d; encoder {s['encoder']} ({s['dims']['known']}-d); "
        f"{s['n_public']} public texts; {len(s['attributes'])} attributes",
        f"translation: {tr['method']}, verdict {tr['verdict']}{conf}, fit {tr['fit_seconds']:.1f} s",
        f"attribute top-1: translated {_f(a['top1'])}{_ci(a['top1_ci'])}, naive {_f(a['naive'])}, "
        f"ideal {_f(a['ideal'])}, chance {_f(a['chance'])} (majority {_f(a['majority'])})",
        f"attribute top-3: translated {_f(a['top3'])}{_ci(a['top3_ci'])}, naive {_f(a['naive_top3'])}, "
        f"ideal {_f(a['ideal_top3'])}, chance {_f(a['chance_top3'])}",
        f"words (F1): translated {_f(w['f1'])}{_ci(w['f1_ci'])} (precision {_f(w['precision'])}, recall "
        f"{_f(w['recall'])}), naive {_f(w['naive_f1'])}, ideal {_f(w['ideal_f1'])}; probe on held-out public "
        f"texts {_f(w['public_f1'])}",
        f"nearest public text holds {_f(n['word_recall'])} of a hidden text's content words (naive "
        f"{_f(n['naive'])}, ideal {_f(n['ideal'])}, a random public text {_f(n['random'])})",
    ]
    if len(s["defences"]) > 1:
        lines.append("defence                        utility@10  top-1  naive  words F1  verdict")
        for d in s["defences"]:
            lines.append(f"{d['defence'][:30]:<30} {_f(d['utility_recall_at_10']):>10} {_f(d['attribute_top1']):>6} "
                         f"{_f(d['attribute_naive']):>6} {_f(d['words_f1']):>9}  {d['verdict']}")
    t = s["timing"]
    lines.append(f"time: encoding {t['encode_seconds']:.1f} s, audit {t['audit_seconds']:.1f} s "
                 f"(of which fitting the map {t['fit_seconds']:.1f} s)")
    return "\n".join(lines)

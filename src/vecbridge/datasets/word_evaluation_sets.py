"""Word-level evaluation files shipped with gensim's test data: Google analogies, WordSim353, SimLex-999."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import DataUnavailableError, FormatError


def gensim_datapath(name: str) -> Path:
    try:
        from gensim.test.utils import datapath
    except ImportError as e:
        raise DataUnavailableError("the evaluation files come with gensim's test data: pip install gensim") from e
    path = Path(datapath(name))
    if not path.exists():
        raise DataUnavailableError(f"{path}: missing from the installed gensim; reinstall gensim")
    return path


@dataclass
class Analogies:
    """Analogy questions ``a : b :: c : d`` with the section each belongs to (``sections[i]`` for ``questions[i]``)."""

    questions: list[tuple[str, str, str, str]]
    sections: list[str]

    def __len__(self) -> int:
        return len(self.questions)

    def by_section(self) -> dict[str, list[tuple[str, str, str, str]]]:
        out: dict[str, list[tuple[str, str, str, str]]] = {}
        for q, s in zip(self.questions, self.sections):
            out.setdefault(s, []).append(q)
        return out


def read_analogies(path: str | Path | None = None, lowercase: bool = True) -> Analogies:
    """Parse a ``questions-words.txt`` style file (``: section`` lines, then 4 words a line)."""
    path = Path(path) if path else gensim_datapath("questions-words.txt")
    questions, sections = [], []
    section = None
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            s = line.strip()
            if not s:
                continue
            if s.startswith(":"):
                section = s[1:].strip()
                continue
            words = s.lower().split() if lowercase else s.split()
            if len(words) != 4:
                raise FormatError(f"an analogy line needs 4 words, found {len(words)}", path, lineno)
            if section is None:
                raise FormatError("analogy before any ': section' line", path, lineno)
            questions.append(tuple(words))
            sections.append(section)
    return Analogies(questions, sections)


def read_similarity(path: str | Path, lowercase: bool = True) -> list[tuple[str, str, float]]:
    """Parse a word-similarity file: ``word1 word2 score`` per line (tab or space), ``#`` comments."""
    path = Path(path)
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            parts = s.split("\t") if "\t" in s else s.split()
            if len(parts) < 3:
                raise FormatError(f"expected 'word1 word2 score', found {len(parts)} fields", path, lineno)
            try:
                score = float(parts[2])
            except ValueError:
                raise FormatError(f"score {parts[2]!r} is not a number", path, lineno) from None
            w1, w2 = (parts[0].lower(), parts[1].lower()) if lowercase else (parts[0], parts[1])
            out.append((w1, w2, score))
    return out


def build_analogies(lowercase: bool = True) -> Analogies:
    return read_analogies(None, lowercase)


def build_wordsim353(lowercase: bool = True) -> list[tuple[str, str, float]]:
    return read_similarity(gensim_datapath("wordsim353.tsv"), lowercase)


def build_simlex999(lowercase: bool = True) -> list[tuple[str, str, float]]:
    return read_similarity(gensim_datapath("simlex999.txt"), lowercase)

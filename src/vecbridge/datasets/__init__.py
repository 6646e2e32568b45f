"""Named real data sets, cached in the user cache directory, and benchmark tasks built on them.

>>> from vecbridge import datasets
>>> [d.name for d in datasets.list_datasets()]
>>> bbc = datasets.load("bbc")                      # Corpus: ids, texts, labels (topics)
>>> glove = datasets.load("glove", limit=50000)      # Embeddings
>>> src, tgt, train, test = datasets.word_task("glove-word2vec")
>>> task = datasets.sentence_task("minilm-l6", "e5-small", n_unpaired=8000, n_test=2000)

See ``docs/data.md`` for each data set's size, licence and build time.
"""

from __future__ import annotations

from ..errors import DataError, DataUnavailableError
from .containers import Corpus, ParallelCorpus
from .encoded import encode_corpus, encode_texts
from .registry import REGISTRY, DatasetInfo, dataset_info, list_datasets, load, register
from .retrieval_tasks import RETRIEVAL_TASKS, RetrievalTask, TextSet, retrieval_task
from .tasks import (
    OOD_SETS,
    WORD_TASKS,
    SentenceTask,
    bbc_split,
    frequent_shared_words,
    prepare_sentence_encodings,
    sentence_task,
    word_task,
)
from .word_evaluation_sets import Analogies, read_analogies, read_similarity

__all__ = [
    "Analogies", "Corpus", "ParallelCorpus", "DataError", "DataUnavailableError", "DatasetInfo", "OOD_SETS", "REGISTRY",
    "RETRIEVAL_TASKS", "RetrievalTask", "TextSet", "retrieval_task",
    "WORD_TASKS", "SentenceTask", "bbc_split", "dataset_info", "encode_corpus", "encode_texts",
    "frequent_shared_words", "list_datasets", "load", "prepare_sentence_encodings", "read_analogies",
    "read_similarity", "register", "sentence_task", "word_task",
]

"""Query text made safe for a text model: any Unicode string, cut to the model's context.

A query may come from anywhere (a web form, a JSON body, a terminal): it can hold unpaired
UTF-16 surrogates, which the Rust tokenizers refuse with a ``TypeError``, and it can be far
longer than the model reads (77 tokens for CLIP), which its position embeddings refuse with a
``ValueError`` unless the tokenizer truncates. Old sentence-transformers CLIP folders carry no
``model_max_length``, so the tokenizer alone does not know the limit; it is read from the
model's own configuration instead.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

# Characters of a long query kept before it is tokenised, per token of context: no token of a
# whitespace-collapsed text covers anywhere near this many, so the cut never changes the tokens
# the model reads, and a 100,000-character query costs no more than a paragraph.
CHARS_PER_TOKEN_BOUND = 32
# A tokenizer without a configured limit reports this sentinel (transformers' VERY_LARGE_INTEGER).
_UNSET_LIMIT = 10**12


def clean_text(text: str) -> str:
    """``text`` with surrogate pairs joined and unpaired surrogates replaced by U+FFFD.

    A string that encodes as UTF-8 (every ordinary one) is returned as it is.
    """
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def context_length(model: Any) -> int | None:
    """The most tokens the text model reads (specials included), or None when it cannot tell.

    Args:
        model: a ``SentenceTransformer`` whose first module holds the tokenizer and the model.
    """
    first = model[0]
    limits: list[int] = []
    seq = getattr(first, "max_seq_length", None)
    if isinstance(seq, int) and 0 < seq < _UNSET_LIMIT:
        limits.append(seq)
    tokenizer = text_tokenizer(model)
    configured = getattr(tokenizer, "model_max_length", None)
    if isinstance(configured, int) and 0 < configured < _UNSET_LIMIT:
        limits.append(configured)
    tower = getattr(first, "model", None) or getattr(first, "auto_model", None)
    config = getattr(tower, "config", None)
    text_config = getattr(config, "text_config", None) or config
    positions = getattr(text_config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions)
    return min(limits) if limits else None


def text_tokenizer(model: Any) -> Any:
    """The tokenizer under a ``SentenceTransformer``'s first module, or None."""
    first = model[0]
    tokenizer = getattr(first, "tokenizer", None)
    if tokenizer is None or not callable(tokenizer):
        tokenizer = getattr(getattr(first, "processor", None), "tokenizer", None)
    return tokenizer


class QueryFitter:
    """Cleans queries and tells (with a warning) which ones the model will read only in part.

    Args:
        tokenizer: the text model's tokenizer (None: texts are only cleaned).
        context: the most tokens the model reads, specials included (None: no limit known).
    """

    def __init__(self, tokenizer: Any, context: int | None) -> None:
        self.tokenizer = tokenizer
        self.context = context

    def fit(self, text: str) -> str:
        """``text`` cleaned and, when very long, shortened to what the model can read.

        The tokens the model reads are those of the first ``context`` of the returned text; a
        query longer than that is logged as a warning, since the rest of it is ignored.
        """
        text = clean_text(text)
        if self.context is None:
            return text
        bound = self.context * CHARS_PER_TOKEN_BOUND
        cut = len(text) > bound
        if cut:
            text = " ".join(text[: bound * 4].split())[:bound]
        if self.tokenizer is not None:
            count = len(self.tokenizer(text, add_special_tokens=True, truncation=False)["input_ids"])
            if count > self.context:
                log.warning(
                    "query cut to the text model's context of %d tokens (it has %s%d): the words "
                    "after that are ignored; query starts %r",
                    self.context, "at least " if cut else "", count, text[:60],
                )
        return text

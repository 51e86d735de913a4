"""Build a tiny random CLIP folder (model, tokenizer, image processor) that loads like a real one.

Tests and the offline demo use it: no weights can be downloaded, and a real CLIP is far too
slow for a unit test. The folder is what ``CLIPModel.save_pretrained`` and
``CLIPProcessor.save_pretrained`` write, so it goes through the exact code path of a real
model. Run ``python tests/tiny_clip.py OUT_DIR`` to write one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import CLIPModel

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"


def _byte_alphabet() -> list[str]:
    """The 256 printable characters byte-level BPE maps bytes to (GPT-2's table)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = [chr(b) for b in printable]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def _vocab() -> dict[str, int]:
    # Every byte alone and at the end of a word, no merges: any text tokenises, one byte a token.
    alphabet = _byte_alphabet()
    tokens = alphabet + [c + "</w>" for c in alphabet] + [BOS, EOS]
    return {token: index for index, token in enumerate(tokens)}


def word_merges(words: list[str], vocab: dict[str, int]) -> list[tuple[str, str]]:
    """BPE merges (their tokens added to ``vocab``) that make each of ``words`` a single token.

    Real CLIP's 49,408-token vocabulary holds most English words whole, so a query costs about
    one token a word; with these merges a benchmark model's tokenizer does the same for the
    given words instead of one token per character. The merges come from training a BPE model
    on the words, so that they form one consistent table.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    if not words:
        return []
    bpe = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    bpe.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.BpeTrainer(
        vocab_size=len(vocab) + 64 * len(words), min_frequency=1, end_of_word_suffix="</w>",
        initial_alphabet=_byte_alphabet(), show_progress=False,
    )
    bpe.train_from_iterator(words, trainer)
    model = json.loads(bpe.to_str())["model"]
    for token in sorted(model["vocab"], key=model["vocab"].get):
        vocab.setdefault(token, len(vocab))
    return [tuple(pair) if isinstance(pair, list) else tuple(pair.split(" ")) for pair in model["merges"]]


def build_tiny_clip(
    folder: Path,
    *,
    dim: int = 16,
    image_size: int = 32,
    patch_size: int = 8,
    hidden: int = 32,
    layers: int = 2,
    seed: int = 0,
) -> Path:
    """Write a tiny random CLIP to ``folder`` and return the folder.

    Args:
        folder: where to write (created if missing).
        dim: the embedding dimension (projection size).
        image_size: the model's input size; the image processor resizes and crops to it.
        patch_size: the vision transformer's patch size (divides ``image_size``).
        hidden: the hidden size of both towers.
        layers: transformer layers in each tower.
        seed: the seed of the random weights.

    Returns:
        ``folder``, loadable with ``SentenceTransformer(str(folder))``.
    """
    import torch
    from transformers import CLIPConfig, CLIPModel

    vocab = _vocab()
    common = {"hidden_size": hidden, "intermediate_size": hidden * 2, "num_hidden_layers": layers}
    config = CLIPConfig(
        text_config={
            **common,
            "num_attention_heads": 2,
            "vocab_size": len(vocab),
            "max_position_embeddings": 77,
            "bos_token_id": vocab[BOS],
            "eos_token_id": vocab[EOS],
            "pad_token_id": vocab[EOS],
        },
        vision_config={
            **common,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": patch_size,
        },
        projection_dim=dim,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    # The default init maps every image to nearly one point (pairwise cosine > 0.99); wider
    # weights spread images apart, so that a test comparing two image paths means something.
    with torch.no_grad():
        for name, parameter in model.vision_model.named_parameters():
            if "norm" not in name:
                parameter.normal_(0.0, 0.4)
    return save_clip_folder(folder, model)


def save_clip_folder(folder: Path, model: CLIPModel, words: list[str] | None = None) -> Path:
    """Save ``model`` with a byte-level CLIP tokenizer and a matching CLIP image processor.

    Args:
        folder: where to write (created if missing).
        model: a transformers ``CLIPModel``; its text vocabulary must hold at least 514 tokens
            (plus the tokens that ``words`` add).
        words: words the tokenizer keeps whole (one token each, as real CLIP's does).

    Returns:
        ``folder``, loadable with ``SentenceTransformer(str(folder))``.
    """
    from transformers import CLIPProcessor, CLIPTokenizer
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = _vocab()
    merges = word_merges(sorted(set(words or [])), vocab)
    if model.config.text_config.vocab_size < len(vocab):
        raise ValueError(f"the text model needs a vocabulary of at least {len(vocab)} tokens")
    size = model.config.vision_config.image_size
    model.save_pretrained(folder)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    """Command line: write a tiny CLIP to OUT_DIR."""
    parser = argparse.ArgumentParser(description="Write a tiny random CLIP model folder.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--image-size", type=int, default=32)
    args = parser.parse_args(argv)
    path = build_tiny_clip(args.out_dir, dim=args.dim, image_size=args.image_size)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

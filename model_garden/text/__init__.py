"""Text for image-text models: in-graph tokenizers, offline vocabulary training, pp ops, prompt data.

Importing the package registers the pp ops `tokenize(...)` and `sample_caption(...)`.
"""

from model_garden import backends as _backends

_backends.tensorflow("model_garden.text (in-graph tensorflow-text tokenizers)")

from model_garden.text import ops_text  # noqa: F401  (registers the pp ops)
from model_garden.text.ops_text import get_tokenizer, tokenizer_kind
from model_garden.text.prompts import canonicalize, class_names, templates, vocab_path
from model_garden.text.sentencepiece_tokenizer import SentencePieceTokenizer
from model_garden.text.vocab import dataset_captions, train_sentencepiece, train_wordpiece
from model_garden.text.wordpiece_tokenizer import RESERVED_TOKENS, WordPieceTokenizer

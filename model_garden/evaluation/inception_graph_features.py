"""`InceptionGraphFeatures`: the papers' FID/IS network, TF-GAN's frozen Inception graph of 2015-12-05.

compare_gan (`eval_utils.py`) and TF-GAN (`classifier_metrics.py`) compute FID and KID on `pool_3:0` (2048-d)
and the Inception Score on `logits:0` (1008 classes) of `inceptionv1_for_inception_score.pb`, the frozen graph
inside `frozen_inception_v1_2015_12_05.tar.gz` (TF-GAN: the same weights as OpenAI's improved-GAN Inception
Score model and the TTUR FID code's `inception-2015-12-05`). The graph is fed at `Mul:0`, after its own
JPEG decoding and normalisation, with TF-GAN's `preprocess_image` applied to float images in [0, 255] as
compare_gan feeds them (unquantised, range-checked, 1-channel images tiled to 3):

  y = (x + 1) * 127.5                 model_garden's [-1, 1] -> compare_gan's [0, 1] * 255
  y = resize_bilinear(y, 299x299)     TF1's ResizeBilinear: align_corners=False, half_pixel_centers=False
  y = (y - 128) / 128

TF1's bilinear resize is not `tf.image.resize` (half-pixel centres): TF-GAN called `tf.image.resize_bilinear`,
later `tf.image.resize`, which under the TF1 that compare_gan ran is the same legacy op.

The graph is a protobuf `GraphDef` (parsed with `tf.compat.v1.GraphDef`, imported with
`tf.graph_util.import_graph_def` inside `tf.compat.v1.wrap_function`; no pickle, no TF-Hub). It is looked for
at `graph_path`, else in `$MODEL_GARDEN_INCEPTION_DIR` or ~/.cache/model_garden/inception/ (the .pb, or the
.tar.gz it is extracted from), else downloaded there from `INCEPTION_URL` (about 88 MB); offline the download
fails within seconds and the error names the file, the URL and the folder to put it in.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import urllib.request
from typing import Optional

import numpy as np
import tensorflow as tf

from model_garden.evaluation.feature_extractor import FeatureExtractor, FeatureExtractorUnavailableError

INCEPTION_URL = "http://download.tensorflow.org/models/frozen_inception_v1_2015_12_05.tar.gz"
INCEPTION_TARBALL = "frozen_inception_v1_2015_12_05.tar.gz"
INCEPTION_FROZEN_GRAPH = "inceptionv1_for_inception_score.pb"
INCEPTION_INPUT = "Mul:0"
INCEPTION_POOL = "pool_3:0"
INCEPTION_LOGITS = "logits:0"
INCEPTION_GRAPH_SIZE = 299
INCEPTION_DIR_ENV = "MODEL_GARDEN_INCEPTION_DIR"
DEFAULT_INCEPTION_DIR = os.path.join("~", ".cache", "model_garden", "inception")
# Offline, urllib fails at the name lookup at once; the timeout bounds a network that drops packets.
DOWNLOAD_TIMEOUT_S = 10.0
# float32 round-off of (x + 1) * 127.5 on images from value_range(-1, 1); anything beyond is a wrong range.
_RANGE_TOLERANCE = 1e-3


def inception_dir() -> str:
  """Where the graph is kept: `$MODEL_GARDEN_INCEPTION_DIR`, else ~/.cache/model_garden/inception."""
  return os.path.abspath(os.path.expanduser(os.environ.get(INCEPTION_DIR_ENV) or DEFAULT_INCEPTION_DIR))


def preprocess_for_inception_graph(images) -> tf.Tensor:
  """Images in [-1, 1] (NHWC, 1 or 3 channels, any size) -> the graph's `Mul:0` input, as compare_gan feeds it."""
  images = tf.convert_to_tensor(images, tf.float32)
  if images.shape.rank != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f"Inception graph features need NHWC images with 1 or 3 channels, got shape {images.shape}.")
  pixels = (images + 1.0) * 127.5
  if pixels.shape[-1] == 1:
    pixels = tf.tile(pixels, [1, 1, 1, 3])
  resized = tf.raw_ops.ResizeBilinear(images=pixels, size=[INCEPTION_GRAPH_SIZE, INCEPTION_GRAPH_SIZE],
                                      align_corners=False, half_pixel_centers=False)
  return (resized - 128.0) / 128.0


def _unavailable(reason: str, directory: str, url: str) -> FeatureExtractorUnavailableError:
  return FeatureExtractorUnavailableError(
      f"The FID Inception graph {INCEPTION_FROZEN_GRAPH} is not available: {reason}. On a machine with internet, "
      f"download {url} and put it (or the {INCEPTION_FROZEN_GRAPH} inside it) in {directory}/ (set "
      f"${INCEPTION_DIR_ENV} to use another folder), or pass features='/path/to/{INCEPTION_FROZEN_GRAPH}'.")


def _download(url: str, destination: str) -> None:
  """`url` -> `destination` through a .part file, so an interrupted download leaves nothing behind."""
  partial = destination + ".part"
  os.makedirs(os.path.dirname(destination), exist_ok=True)
  try:
    with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(partial, "wb") as out:
      shutil.copyfileobj(response, out, 1 << 22)
    os.replace(partial, destination)
  finally:
    if os.path.exists(partial):
      os.remove(partial)


def _read_from_tarball(tarball: str) -> bytes:
  with tarfile.open(tarball, "r:gz") as tar:
    member = next((m for m in tar.getmembers() if os.path.basename(m.name) == INCEPTION_FROZEN_GRAPH), None)
    if member is None or not member.isfile():
      raise ValueError(f"{tarball} holds no {INCEPTION_FROZEN_GRAPH}.")
    return tar.extractfile(member).read()


def find_inception_graph(directory: Optional[str] = None, download: bool = True, url: str = INCEPTION_URL) -> str:
  """The path of `inceptionv1_for_inception_score.pb` in `directory`: found, extracted from the tarball
  there, or downloaded (tarball from `url`, then extracted). Raises `FeatureExtractorUnavailableError`."""
  directory = os.path.abspath(os.path.expanduser(directory or inception_dir()))
  graph, tarball = os.path.join(directory, INCEPTION_FROZEN_GRAPH), os.path.join(directory, INCEPTION_TARBALL)
  if os.path.isfile(graph):
    return graph
  if not os.path.isfile(tarball):
    if not download:
      raise _unavailable(f"neither it nor {INCEPTION_TARBALL} is in {directory} and downloading is off",
                         directory, url)
    try:
      _download(url, tarball)
    except OSError as e:  # URLError, timeouts and refused connections are all OSErrors
      raise _unavailable(f"the download from {url} failed ({type(e).__name__}: {str(e)[:200]})",
                         directory, url) from None
  data = _read_from_tarball(tarball)
  with open(graph + ".part", "wb") as f:
    f.write(data)
  os.replace(graph + ".part", graph)
  return graph


def load_graph_def(path: str) -> tf.compat.v1.GraphDef:
  """A frozen GraphDef from a binary protobuf file (.pb) or the TF-GAN tarball holding one."""
  path = os.path.abspath(os.path.expanduser(path))
  if not os.path.isfile(path):
    raise FileNotFoundError(f"No Inception graph at {path}: give the path of {INCEPTION_FROZEN_GRAPH} "
                            f"(from {INCEPTION_URL}).")
  if path.endswith((".tar.gz", ".tgz")):
    data = _read_from_tarball(path)
  else:
    with open(path, "rb") as f:
      data = f.read()
  graph_def = tf.compat.v1.GraphDef()
  try:
    graph_def.ParseFromString(data)
  except Exception as e:  # pylint: disable=broad-except  (protobuf's DecodeError)
    raise ValueError(f"{path} is not a binary GraphDef protobuf ({type(e).__name__}: {e}); expected "
                     f"{INCEPTION_FROZEN_GRAPH} from {INCEPTION_URL}.") from None
  nodes = {node.name for node in graph_def.node}
  missing = [t for t in (INCEPTION_INPUT, INCEPTION_POOL, INCEPTION_LOGITS) if t.split(":")[0] not in nodes]
  if missing:
    raise ValueError(f"{path} has no tensor(s) {', '.join(missing)}: it is not the FID Inception graph "
                     f"{INCEPTION_FROZEN_GRAPH} ({INCEPTION_URL}).")
  return graph_def


class InceptionGraphFeatures(FeatureExtractor):
  """`pool_3` (FID, KID) and `logits` (IS) of TF-GAN's frozen Inception graph, preprocessed as compare_gan.

  The network of the papers' FID and IS numbers (see the module docstring for the graph, its preprocessing
  and where the file is looked for). Images are float in [-1, 1]; values outside (beyond float round-off)
  raise, as compare_gan asserts its [0, 255] range.

  Args:
    graph_path: the .pb (or its .tar.gz); None: `find_inception_graph()` (cache folder or download).
    batch_size: images per forward pass.
    download: allow the download when the file is not in the cache folder.

  Example:
    >>> extractor = InceptionGraphFeatures()          # or features="inception_2015_12_05" in gan_metrics
    >>> out = extractor(images)                       # {"pool": (n, 2048), "logits": (n, 1008)}
  """

  name = "inception_2015_12_05"
  comparable_to_papers = True

  def __init__(self, graph_path: Optional[str] = None, batch_size: int = 100, download: bool = True):
    self.graph_path = graph_path or find_inception_graph(download=download)
    self.batch_size = int(batch_size)
    graph_def = load_graph_def(self.graph_path)

    def run_graph(inputs):
      return tf.graph_util.import_graph_def(graph_def, input_map={INCEPTION_INPUT: inputs},
                                            return_elements=[INCEPTION_POOL, INCEPTION_LOGITS], name="inception")

    size = INCEPTION_GRAPH_SIZE
    graph = tf.compat.v1.wrap_function(run_graph, [tf.TensorSpec([None, size, size, 3], tf.float32)])
    self._graph = graph
    self._forward = tf.function(self._features)

  def _features(self, images):
    pool, logits = self._graph(preprocess_for_inception_graph(images))
    return tf.reshape(pool, [tf.shape(pool)[0], -1]), tf.reshape(logits, [tf.shape(logits)[0], -1])

  def __call__(self, images):
    images = np.asarray(images, np.float32)
    if images.size and (images.min() < -1.0 - _RANGE_TOLERANCE or images.max() > 1.0 + _RANGE_TOLERANCE):
      raise ValueError(f"Inception graph features take images in [-1, 1] (fed to the graph as (x + 1) * 127.5 "
                       f"in [0, 255]); got values in [{images.min():.4g}, {images.max():.4g}].")
    pools, logits = [], []
    for start in range(0, images.shape[0], self.batch_size):
      pool, logit = self._forward(tf.constant(images[start:start + self.batch_size]))
      pools.append(pool.numpy())
      logits.append(logit.numpy())
    return {"pool": np.concatenate(pools), "logits": np.concatenate(logits)}

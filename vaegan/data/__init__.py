"""Dataset specs -> in-memory tensors, for both kinds of model, with one grammar.

A *spec* is what a user types after ``--data`` (grammar and row-range rules: `spec.py`)::

    SPEC = PART ( "+" PART )*        PART = SOURCE [ "@" START ":" STOP ]

    binarized-mnist                  mnist@0:1000                 ../shared/data/mnist_test.npz@8000:
    ../shared/data/mnist_train_5k.npz+../shared/data/mnist_test.npz@0:8000

SOURCE is a name (``binarized-mnist`` and ``mnist`` for the VAE; ``svhn`` and ``mnist`` for the GAN) or a path to
an ``.npz``, an ``.amat`` or a folder of images (`sources.py` says what each holds).

How parts become a data set - the same for both kinds:

* A part stands for its rows of its source's *set*: the train split of a named source (all 60k training images for
  ``mnist``), an ``.npz``'s ``X`` (else ``train``), every image of a folder or ``.amat`` file. Parts are joined in
  spec order; labels are kept only when every part has them.
* VAE (`load_binary_mnist` -> `BinarySplits`): a spec that is one source without a row range keeps the source's own
  train/valid/test splits when it has them (``binarized-mnist``, ``mnist``, an ``.npz`` with those keys). Every
  other spec is one set that is split 80/10/10 with the fixed seed, as a single-``X`` ``.npz`` always was.
* GAN (`load_rgb32` -> `ImageSet`): the set itself, as (N, 3, 32, 32) in [-1, 1].

Everything ends up in memory as tensors: MNIST-sized data is ~150 MB, and indexing a tensor is far faster than a
per-sample DataLoader for these small models.

Modules: `spec.py` the grammar, `files.py` downloads and file readers, `sources.py` one loader per source and the
dispatch, `binary.py` the VAE's binary digits, `rgb32.py` the GAN's 32x32 RGB sets, `digits.py` the test digits
the app shows.
"""

from vaegan.data.binary import (
    BINARY_KIND,
    BinarySplits,
    binarize_batch,
    fixed_binarization,
    is_binary,
    load_binary_mnist,
    minibatches,
    split_80_10_10,
    to_unit_float,
)
from vaegan.data.digits import download_test_digits, find_test_digits, load_test_digits
from vaegan.data.files import default_data_root, download, read_image_folder, read_npz, sha1_of
from vaegan.data.rgb32 import RGB_KIND, RGB_SIDE, ImageSet, load_rgb32, to_rgb32
from vaegan.data.sources import (
    LAROCHELLE_SHA1,
    LAROCHELLE_URL,
    MNIST_SIDE,
    SPLITS,
    SourceArrays,
    SourceKind,
    larochelle_folder,
    load_joined,
    load_source,
    parse_amat,
)
from vaegan.data.spec import Part, Rows, Spec, parse_spec

__all__ = [
    "BINARY_KIND",
    "LAROCHELLE_SHA1",
    "LAROCHELLE_URL",
    "MNIST_SIDE",
    "RGB_KIND",
    "RGB_SIDE",
    "SPLITS",
    "BinarySplits",
    "ImageSet",
    "Part",
    "Rows",
    "SourceArrays",
    "SourceKind",
    "Spec",
    "binarize_batch",
    "default_data_root",
    "download",
    "download_test_digits",
    "find_test_digits",
    "fixed_binarization",
    "is_binary",
    "larochelle_folder",
    "load_binary_mnist",
    "load_joined",
    "load_rgb32",
    "load_source",
    "load_test_digits",
    "minibatches",
    "parse_amat",
    "parse_spec",
    "read_image_folder",
    "read_npz",
    "sha1_of",
    "split_80_10_10",
    "to_rgb32",
    "to_unit_float",
]

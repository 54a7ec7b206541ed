"""Self-supervised pretext tasks and semi-supervised objectives (Kolesnikov et al. 2019; Zhai et al. 2019).

Importing this package registers the objectives `rotation`, `exemplar`, `jigsaw`, `relative_patch_location`
("Revisiting Self-Supervised Visual Representation Learning") and `s4l_rotation`, `s4l_exemplar`,
`rotation_vat` (MOAM step 1), `vat`, `entmin`, `pseudo_label` ("S4L: Self-Supervised Semi-Supervised
Learning"). Pretext objectives build their training examples (rotations, views, patches) inside the step
from a plain batch of images; semi-supervised ones read the `labelled` mask of
`model_garden.data.semi_supervised`.
"""

from model_garden.objectives.ssl.entmin import EntMin
from model_garden.objectives.ssl.exemplar import Exemplar
from model_garden.objectives.ssl.jigsaw import Jigsaw, jigsaw_permutations
from model_garden.objectives.ssl.patch_task import PatchTask
from model_garden.objectives.ssl.pseudo_label import PseudoLabel
from model_garden.objectives.ssl.relative_patch_location import RelativePatchLocation
from model_garden.objectives.ssl.rotation import Rotation
from model_garden.objectives.ssl.s4l import S4L
from model_garden.objectives.ssl.vat import VAT

"""The inference check of tests/emit/agreement.py on networks that amplify fp32 rounding.

Folding a batch norm into the layer before it is exact algebra; the folded network differs
from the plain one by rounding alone. A network that divides by a tiny deviation after the
folded layer amplifies that rounding past the fp32 bound (1e-5 relative), and generated specs
hold such networks. Where the fp32 comparison exceeds the bound, ``check_inference`` measures
the plain network's own fp32 error against float64: within a tenth of the bound the fp32
comparison fails the network as before, else the folded and plain networks are compared in
float64.

Here: two such networks (chains the generator drew; the second made ill-conditioned for every
seed by small convolution weights) that the fp32-only check failed and the measured one passes,
for the reason it gives; and deliberately wrong folds, which fail in either regime.
"""

from __future__ import annotations

import pytest

import archc
from archc.emit import inference

from .agreement import CONDITIONING_LIMIT, InferenceDiffers, agree

# A group norm whose groups hold one value each (2 channels, 2 groups, a 1×1 map) outputs its
# own rounding noise (x - mean is 0 in exact arithmetic), scaled by 1/sqrt(eps); the linear
# layer adds it to its bias, and the layer norm of the three nearly equal features that gives
# amplifies it again. The fold cannot change the output in exact arithmetic; in fp32 it changes
# the noise.
GROUP_NORM_OF_ONE_VALUE = """
archc: 1
name: g
input: [3, 3, 3]
layers:
  - c: conv(2, 3)
  - n: bn()
  - g: group_norm(2)
  - pool: adaptive_avgpool(1)
  - flatten
  - fc: linear(3)
  - ln: layer_norm()
"""

# A batch norm without running statistics (nor affine weights) on one channel of a 1×1 map
# normalises the two values of the batch by their own deviation. The convolution's small weights
# (and zero bias) leave the two values of the folded layer's output nearly equal, each about the
# folded shift, so their difference is mostly fp32 rounding of that shift.
BATCH_STATISTICS_OF_TWO_VALUES = """
archc: 1
name: g
input: [1, 1, 1]
init: {conv: trunc_normal, std: 1.0e-4}
layers:
  - c: conv(1, 1)
  - a: bn()
  - b: bn(track_running_stats=false, affine=false)
"""

# A layer norm of two features normalises their difference: two nearly equal features (seed 181)
# make the network ill-conditioned, and each channel's shift (the folded bias) still shows in it.
LAYER_NORM_OF_TWO_FEATURES = """
archc: 1
name: g
input: [2, 1, 1]
layers:
  - c: conv(2, 1)
  - n: bn()
  - flatten
  - ln: layer_norm()
"""

# An ordinary network: its fp32 output is within rounding of float64, so fp32 decides.
WELL_CONDITIONED = """
archc: 1
name: g
input: [3, 6, 6]
layers:
  - c: conv(4, 3, padding=1)
  - n: bn()
  - relu
  - pool: adaptive_avgpool(1)
  - flatten
  - fc: linear(3)
"""


@pytest.mark.parametrize(("text", "seed", "old_bound"), [
    pytest.param(GROUP_NORM_OF_ONE_VALUE, 10, 1e-5, id="group_norm_of_one_value"),
    pytest.param(BATCH_STATISTICS_OF_TWO_VALUES, 1, 1e-4, id="batch_statistics_of_two_values"),
])
def test_an_ill_conditioned_network_is_compared_in_float64(text: str, seed: int, old_bound: float) -> None:
    errors = agree(archc.load("g.yaml", text=text), seed=seed)
    assert errors is not None
    # the fp32-only check (1e-5; 1e-4 where a batch norm uses batch statistics) failed on it ...
    assert errors.fp32 > old_bound, errors
    # ... because the plain network itself is that far from its float64 output, not the fold
    assert errors.plain_fp32 > CONDITIONING_LIMIT and not errors.fp32_decides, errors
    # so float64 decided, and there the folded network is within rounding of the plain one
    assert errors.fp64 <= errors.fp64_bound, errors


# Wrong folds, each a one-line change of the emitted fold_batch_norm (archc/emit/inference.py).
WRONG_FOLDS = {
    "bias forgotten": ("        shift = shift + beta.double()\n", "        shift = shift\n"),
    "scale forgotten": ("        scale = scale * gamma.double()\n", "        scale = scale\n"),
    "eps forgotten": ("torch.rsqrt(var.double() + eps)", "torch.rsqrt(var.double())"),
}


@pytest.mark.parametrize(("text", "seed", "fp32_decides", "caught_by", "wrong"), [
    pytest.param(WELL_CONDITIONED, 0, True, "fp32", "bias forgotten", id="fp32-bias"),
    pytest.param(WELL_CONDITIONED, 0, True, "fp32", "scale forgotten", id="fp32-scale"),
    pytest.param(LAYER_NORM_OF_TWO_FEATURES, 181, False, "float64", "bias forgotten", id="float64-bias"),
    pytest.param(LAYER_NORM_OF_TWO_FEATURES, 181, False, "float64", "scale forgotten", id="float64-scale"),
    # eps / (2 var) relative, about 1e-5 of the weights: within fp32's 1e-5 in a well-conditioned
    # network (3.4e-6 in the one above), 1e-3 here, where float64 catches it
    pytest.param(LAYER_NORM_OF_TWO_FEATURES, 181, False, "float64", "eps forgotten", id="float64-eps"),
    # (a forgotten bias cannot show here: the batch statistics subtract any shift)
    pytest.param(BATCH_STATISTICS_OF_TWO_VALUES, 1, False, "float64", "scale forgotten", id="float64-batch-scale"),
    pytest.param(BATCH_STATISTICS_OF_TWO_VALUES, 1, False, "float64", "eps forgotten", id="float64-batch-eps"),
])
def test_a_wrong_fold_fails_in_either_regime(monkeypatch: pytest.MonkeyPatch, text: str, seed: int,
                                             fp32_decides: bool, caught_by: str, wrong: str) -> None:
    spec = archc.load("g.yaml", text=text)
    errors = agree(spec, seed=seed)  # the right fold passes, in the regime named
    assert errors is not None and errors.fp32_decides == fp32_decides, errors
    old, new = WRONG_FOLDS[wrong]
    assert old in inference.FUNCTIONS  # the fold still reads as written here
    monkeypatch.setattr(inference, "FUNCTIONS", inference.FUNCTIONS.replace(old, new))
    with pytest.raises(InferenceDiffers, match=f"relative, {caught_by}"):
        agree(spec, seed=seed)

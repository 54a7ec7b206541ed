"""Tests of model_garden.optimizers against NumPy implementations of the same formulas."""

import json
import os
import subprocess
import sys
import textwrap

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import ml_dtypes  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from model_garden import optimizers  # noqa: E402
from model_garden.registry import SpecError  # noqa: E402

BF16 = ml_dtypes.bfloat16


def variable(path, value):
  """A keras.Variable whose .path is `path` (e.g. "net/head/kernel")."""
  *scopes, name = path.split("/")

  def create(scopes):
    if not scopes:
      return keras.Variable(np.asarray(value, "float32"), name=name)
    with keras.name_scope(scopes[0]):
      return create(scopes[1:])

  return create(scopes)


def run_steps(opt, variables, grads_per_step, compiled=False):
  opt.build(variables)
  apply = lambda g: opt.apply(g, variables)  # noqa: E731
  if compiled:  # "xla" also compiles with XLA, as Keras' fit does on GPUs
    apply = tf.function(apply, jit_compile=compiled == "xla")
  for grads in grads_per_step:
    apply([tf.constant(g, tf.float32) for g in grads])
  return [v.numpy() for v in variables]


def random_grads(shapes, steps, seed=0):
  rng = np.random.default_rng(seed)
  return [[rng.normal(size=s).astype("float32") for s in shapes] for _ in range(steps)]


# --- NumPy references ------------------------------------------------------------------------------------

def np_adafactor(params, grads_per_step, lr, factored_axes, momentum=0.9, eps=1e-30, cap=0.999, rate=0.8,
                 state_decay=None):
  """Adafactor of Scaling ViT; factored_axes[i] = (row axis, col axis) or None. Returns params, momenta.

  The bfloat16 momentum decays by `state_decay`, by default the momentum rounded to bfloat16 as JAX does.
  """
  state_decay = float(BF16(momentum)) if state_decay is None else state_decay
  params = [p.astype("float32").copy() for p in params]
  state = [None] * len(params)
  momenta = [np.zeros(p.shape, BF16) for p in params]
  for t, grads in enumerate(grads_per_step):
    beta2 = min(cap, 1.0 - (t + 1.0) ** -rate)
    for i, g in enumerate(grads):
      g2 = g.astype("float32") ** 2 + eps
      if factored_axes[i]:
        rows, cols = factored_axes[i]
        r_new = g2.mean(axis=cols, keepdims=True)   # one value per row
        c_new = g2.mean(axis=rows, keepdims=True)   # one value per column
        r, c = state[i] if state[i] else (np.zeros_like(r_new), np.zeros_like(c_new))
        r, c = beta2 * r + (1 - beta2) * r_new, beta2 * c + (1 - beta2) * c_new
        state[i] = (r, c)
        v_hat = r * c / c.mean(axis=cols, keepdims=True)  # Shazeer & Stern: R C / (1^T R), with means
      else:
        v = state[i] if state[i] is not None else np.zeros_like(g2)
        v_hat = state[i] = beta2 * v + (1 - beta2) * g2
      u = g / np.sqrt(v_hat)
      m = np.float32(state_decay) * momenta[i].astype("float32") + np.float32(1 - momentum) * u
      momenta[i] = m.astype(BF16)
      params[i] -= lr * m
  return params, momenta


def np_sgd(params, grads_per_step, lr, momentum, nesterov, momenta=None, state_dtype="float32"):
  """optax.trace: m <- g + momentum * m with the momentum rounded to the stored m's dtype. Returns params, m."""
  params = [p.copy() for p in params]
  ms = [np.zeros(p.shape, state_dtype) for p in params] if momenta is None else list(momenta)
  decay = np.float32(np.asarray(momentum, state_dtype))
  for grads in grads_per_step:
    for i, g in enumerate(grads):
      m = g + decay * ms[i].astype("float32")
      ms[i] = m.astype(state_dtype)
      params[i] -= lr * (g + np.float32(momentum) * m if nesterov else m)
  return params, ms


def np_adam(params, grads_per_step, lr, b1=0.9, b2=0.999, eps=1e-8, mu_dtype="float32"):
  """optax.scale_by_adam; mu stored in mu_dtype and decayed by b1 rounded to it. Returns params, mu."""
  params = [p.copy() for p in params]
  mu = [np.zeros(p.shape, mu_dtype) for p in params]
  nu = [np.zeros_like(p) for p in params]
  b1_on_mu = np.float32(np.asarray(b1, mu_dtype))
  for t, grads in enumerate(grads_per_step, start=1):
    for i, g in enumerate(grads):
      m = b1_on_mu * mu[i].astype("float32") + np.float32(1 - b1) * g
      mu[i] = m.astype(mu_dtype)
      nu[i] = b2 * nu[i] + (1 - b2) * g * g
      # The bias corrections in float32, as optax's `1 - decay ** count` (1 - float32(0.999) is not 0.001).
      correction1, correction2 = 1 - np.float32(b1) ** np.float32(t), 1 - np.float32(b2) ** np.float32(t)
      params[i] -= lr * (m / correction1) / (np.sqrt(nu[i] / correction2) + eps)
  return params, mu


# --- Update rules ----------------------------------------------------------------------------------------

def test_adafactor_bv_matches_numpy():
  shapes = [(64, 48), (40,), (4, 8), (2, 48, 64)]
  axes = [(0, 1), None, None, (2, 1)]  # (4, 8): 4 < 32, not factored; 3-D: the two largest axes
  rng = np.random.default_rng(1)
  init = [rng.normal(size=s).astype("float32") for s in shapes]
  grads = random_grads(shapes, steps=3)
  variables = [variable(f"net/v{i}/kernel", p) for i, p in enumerate(init)]
  opt = optimizers.make({"name": "adafactor_bv", "lr": 0.1}, total_steps=3)
  got = run_steps(opt, variables, grads, compiled=True)
  want, momenta = np_adafactor(init, grads, 0.1, axes)
  for g, w in zip(got, want):
    np.testing.assert_allclose(g, w, rtol=2e-5, atol=2e-6)
  # State: factored second moments for (64, 48) and the 3-D kernel, full ones for the others.
  assert [v is not None for v in opt._v] == [False, True, True, False]
  assert tuple(opt._v_row[0].shape) == (64,) and tuple(opt._v_col[0].shape) == (48,)
  assert tuple(opt._v_row[3].shape) == (2, 64) and tuple(opt._v_col[3].shape) == (2, 48)
  # The first moment is stored in bfloat16 (and holds the rounded float32 moment).
  for m, want_m in zip(opt._m, momenta):
    assert keras.backend.standardize_dtype(m.dtype) == "bfloat16"
    np.testing.assert_allclose(np.asarray(m.numpy(), "float32"), want_m.astype("float32"), rtol=1e-2)


def test_adafactor_beta2_schedule():
  opt = optimizers.AdafactorBV(0.1)
  opt.build([variable("net/w", np.zeros(3))])
  values = []
  for step in (0, 1, 9, 10**6):
    opt._iterations.assign(step)
    values.append(float(opt.beta2()))
  np.testing.assert_allclose(values, [0.0, 1 - 2 ** -0.8, 1 - 10 ** -0.8, 0.999], rtol=1e-6)


def test_factored_axes():
  assert optimizers.factored_axes((64, 48), 32) == (0, 1)
  assert optimizers.factored_axes((48, 64), 32) == (1, 0)
  assert optimizers.factored_axes((768, 768), 32) == (1, 0)  # ties keep axis order, as optax
  assert optimizers.factored_axes((3, 3, 64, 128), 32) == (3, 2)
  assert optimizers.factored_axes((4, 8), 32) is None and optimizers.factored_axes((40,), 32) is None


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_matches_numpy(nesterov):
  shapes = [(5, 3), (3,)]
  init = [np.ones(s, "float32") for s in shapes]
  grads = random_grads(shapes, steps=3, seed=2)
  variables = [variable(f"net/sgd{i}/kernel", p) for i, p in enumerate(init)]
  opt = optimizers.make({"name": f"sgd(momentum=0.9, nesterov={nesterov})", "lr": 0.05})
  got = run_steps(opt, variables, grads)
  for g, w in zip(got, np_sgd(init, grads, 0.05, 0.9, nesterov)[0]):
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


# --- bfloat16 states: the decay is rounded to bfloat16, as JAX does in big_vision's optax -----------------
# Reference numbers: big_vision's `scale_by_adafactor` (optax scale_by_factored_rms -> ema(0.9, debias=False,
# accumulator_dtype=bfloat16)), `momentum_hp` (optax.trace, bfloat16) and optax.scale_by_adam(mu_dtype=
# bfloat16), jitted, optax 0.2.8 / jax 0.10.2 on CPU; each is also recomputed below in NumPy + ml_dtypes.

BV_GRADS = [np.array(g, "float32") for g in ([0.5, -1.25, 2.0, 0.75, -0.3, 1.5], [0.25, -1.0, 3.0, 0.5, -0.2, 1.5],
                                              [0.6, -0.7, 1.0, 1.1, -0.4, 1.5])]
BV_ADAFACTOR_PARAMS = [-0.5209628939628601, 0.5138484835624695, -0.535239040851593, -0.5533263087272644,
                       0.5493406057357788, -0.560143232345581]   # 3 steps from 0, lr 1
BV_ADAFACTOR_MOMENTUM = [0.265625, -0.234375, 0.23046875, 0.283203125, -0.279296875, 0.26953125]
BV_SGD_MOMENTUM = [0.5, -1.25, 2.0, 0.75, -0.3, 1.5]   # stored (bfloat16) momentum before one step with BV_GRADS[1]
BV_SGD_UPDATE = {False: [0.69921875, -2.123046875, 4.796875, 1.173828125, -0.47023314237594604, 2.84765625],
                 True: [0.8792968392372131, -2.9107420444488525, 7.317187309265137, 1.5564452409744263,
                        -0.6232098340988159, 4.062890529632568]}
BV_SGD_NEW_MOMENTUM = [0.69921875, -2.125, 4.8125, 1.171875, -0.470703125, 2.84375]
BV_ADAM_PARAMS = [-2.8881707191467285, 2.939920663833618, -2.8987789154052734, -2.940154790878296,
                  2.9443552494049072, -2.999638795852661]   # 3 steps from 0, lr 1
BV_ADAM_MU = [0.12255859375, -0.259765625, 0.53125, 0.2158203125, -0.08203125, 0.40625]


def test_bfloat16_state_decay_is_rounded_as_jax_does():
  assert float(BF16(0.9)) == 0.8984375
  assert optimizers.AdafactorBV(momentum=0.9).momentum_decay == 0.8984375  # momentum_dtype bfloat16 by default
  assert optimizers.AdafactorBV(momentum=0.9, momentum_dtype="float32").momentum_decay == float(np.float32(0.9))
  assert optimizers.SGD(momentum=0.9, momentum_dtype="bfloat16").momentum_decay == 0.8984375
  assert optimizers.SGD(momentum=0.9).momentum_decay == float(np.float32(0.9))
  assert optimizers.param_group_optimizer.decay_on_state(0.999, "bfloat16") == 1.0
  assert optimizers.param_group_optimizer.decay_on_state(0.99, "float16") == float(np.float16(0.99))


def test_adafactor_bfloat16_momentum_matches_big_vision():
  want, momenta = np_adafactor([np.zeros(6, "float32")], [[g] for g in BV_GRADS], 1.0, [None])
  np.testing.assert_allclose(want[0], BV_ADAFACTOR_PARAMS, rtol=1e-6)   # NumPy == big_vision's optax
  np.testing.assert_array_equal(momenta[0].astype("float32"), BV_ADAFACTOR_MOMENTUM)
  # With a float32 0.9 on the stored momentum (the old arithmetic) the parameters differ by > 1e-4.
  old, _ = np_adafactor([np.zeros(6, "float32")], [[g] for g in BV_GRADS], 1.0, [None], state_decay=0.9)
  assert np.max(np.abs(old[0] / BV_ADAFACTOR_PARAMS - 1)) > 1e-4
  for compiled in (False, True):
    variables = [variable("net/v/kernel", np.zeros(6))]
    opt = optimizers.AdafactorBV(1.0)
    got = run_steps(opt, variables, [[g] for g in BV_GRADS], compiled=compiled)
    np.testing.assert_allclose(got[0], BV_ADAFACTOR_PARAMS, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(opt._m[0].numpy(), "float32"), BV_ADAFACTOR_MOMENTUM)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_bfloat16_momentum_matches_big_vision(nesterov):
  m0 = np.asarray(BV_SGD_MOMENTUM, "float32").astype(BF16)
  want, ms = np_sgd([np.zeros(6, "float32")], [[BV_GRADS[1]]], 1.0, 0.9, nesterov, momenta=[m0], state_dtype=BF16)
  np.testing.assert_allclose(-want[0], BV_SGD_UPDATE[nesterov], rtol=1e-6)
  np.testing.assert_array_equal(ms[0].astype("float32"), BV_SGD_NEW_MOMENTUM)
  old = BV_GRADS[1] + np.float32(0.9) * m0.astype("float32")
  assert np.max(np.abs(old / BV_SGD_UPDATE[False] - 1)) > 1e-4
  variables = [variable("net/v/kernel", np.zeros(6))]
  opt = optimizers.SGD(1.0, momentum=0.9, nesterov=nesterov, momentum_dtype="bfloat16")
  opt.build(variables)
  opt._momenta[0].assign(m0)
  got = run_steps(opt, variables, [[BV_GRADS[1]]])
  np.testing.assert_allclose(-got[0], BV_SGD_UPDATE[nesterov], rtol=1e-6)
  np.testing.assert_array_equal(np.asarray(opt._momenta[0].numpy(), "float32"), BV_SGD_NEW_MOMENTUM)


def test_adam_bfloat16_mu_matches_optax():
  want, mu = np_adam([np.zeros(6, "float32")], [[g] for g in BV_GRADS], 1.0, mu_dtype=BF16)
  np.testing.assert_allclose(want[0], BV_ADAM_PARAMS, rtol=1e-6)
  np.testing.assert_array_equal(mu[0].astype("float32"), BV_ADAM_MU)
  variables = [variable("net/v/kernel", np.zeros(6))]
  opt = optimizers.Adam(1.0, mu_dtype="bfloat16")
  got = run_steps(opt, variables, [[g] for g in BV_GRADS], compiled=True)
  np.testing.assert_allclose(got[0], BV_ADAM_PARAMS, rtol=1e-6)
  np.testing.assert_array_equal(np.asarray(opt._mu[0].numpy(), "float32"), BV_ADAM_MU)


def test_adam_matches_numpy():
  shapes = [(6, 4), (4,)]
  init = [np.ones(s, "float32") for s in shapes]
  grads = random_grads(shapes, steps=3, seed=3)
  variables = [variable(f"net/adam{i}/kernel", p) for i, p in enumerate(init)]
  opt = optimizers.make({"name": "adam(b1=0.9, b2=0.999)", "lr": 0.01})
  got = run_steps(opt, variables, grads, compiled="xla")
  for g, w in zip(got, np_adam(init, grads, 0.01)[0]):
    np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


# --- Parameter groups, decay, clipping -------------------------------------------------------------------

def test_decoupled_weight_decay_with_regex_mults():
  # s(t) = linear warmup over 2 steps then linear decay to 0 at step 10: s(0)=0, s(1)=0.5, s(2)=1.
  lr, wd = 0.1, 0.01
  paths = ["net/head/kernel", "net/body/kernel", "net/body/bias"]
  variables = [variable(p, np.full((2, 2), 3.0)) for p in paths]
  opt = optimizers.make({"name": "sgd(momentum=0.0)", "lr": lr, "wd": wd, "schedule": "linear(warmup_steps=2)",
                         "wd_mults": [(".*head/kernel", 100.0), (".*/kernel", 1.0)]}, total_steps=10)
  grad = np.full((2, 2), 0.5, "float32")
  opt.build(variables)
  want = {p: 3.0 for p in paths}
  for s in (0.0, 0.5, 1.0):
    opt.apply([tf.constant(grad)] * 3, variables)
    mults = {"net/head/kernel": 100.0, "net/body/kernel": 1.0, "net/body/bias": 0.0}
    for p in paths:  # p <- p - lr * s * g - s * wd * mult * p
      want[p] = want[p] - lr * s * 0.5 - s * wd * mults[p] * want[p]
  for v, p in zip(variables, paths):
    np.testing.assert_allclose(v.numpy(), np.full((2, 2), want[p]), rtol=1e-6)
  assert want["net/head/kernel"] < want["net/body/kernel"] < want["net/body/bias"]


def test_default_wd_mults_decay_only_kernels():
  opt = optimizers.make({"name": "sgd(momentum=0.0)", "lr": 1.0, "wd": 0.5})
  variables = [variable("m/dense/kernel", np.ones(2)), variable("m/dense/bias", np.ones(2))]
  run_steps(opt, variables, [[np.zeros(2), np.zeros(2)]])
  np.testing.assert_allclose(variables[0].numpy(), [0.5, 0.5])
  np.testing.assert_allclose(variables[1].numpy(), [1.0, 1.0])


def test_lr_mults_scale_the_update_not_the_decay():
  opt = optimizers.make({"name": "sgd(momentum=0.0)", "lr": 0.1, "wd": 0.2, "lr_mults": [(".*head/.*", 10.0)]})
  variables = [variable("net/head/kernel", np.ones(3)), variable("net/body/kernel", np.ones(3))]
  run_steps(opt, variables, [[np.ones(3), np.ones(3)]])
  np.testing.assert_allclose(variables[0].numpy(), 1 - 0.1 * 10 * 1 - 0.2, rtol=1e-6)
  np.testing.assert_allclose(variables[1].numpy(), 1 - 0.1 * 1 - 0.2, rtol=1e-6)
  with pytest.raises(SpecError, match="frozen"):
    optimizers.make({"name": "sgd", "lr": 0.1, "lr_mults": [(".*", 0.0)]})


def test_frozen_variables_get_no_state_and_no_update():
  # LiT: `img/.*` matches `lit/img/...` (paths may omit the model's name).
  paths = ["lit/img/embedding/kernel", "lit/img/head/bias", "lit/txt/head/kernel"]
  variables = [variable(p, np.ones((4, 3))) for p in paths]
  opt = optimizers.make({"name": "adam", "lr": 0.1, "frozen": "img/.*"})
  assert opt.filter_trainable(variables) == variables[2:]
  assert optimizers.filter_trainable(keras.optimizers.LossScaleOptimizer(opt), variables) == variables[2:]
  opt.build(variables)  # frozen ones are skipped even when passed in
  assert sorted(v.name for v in opt.variables) == ["iteration", "lit_txt_head_kernel_mu", "lit_txt_head_kernel_nu"]
  opt.apply([tf.ones((4, 3))] * 3, variables)
  np.testing.assert_array_equal(variables[0].numpy(), np.ones((4, 3)))
  np.testing.assert_array_equal(variables[1].numpy(), np.ones((4, 3)))
  assert np.all(variables[2].numpy() < 1)
  with pytest.warns(UserWarning, match="matches no variable"):
    optimizers.make({"name": "adam", "lr": 0.1, "frozen": "image/.*"}).filter_trainable(variables)


def test_global_norm_clipping():
  grads = [np.array([3.0, 0.0], "float32"), np.array([0.0, 4.0], "float32")]  # global norm 5
  for clip, scale in ((1.0, 1 / 5), (10.0, 1.0), (None, 1.0)):
    variables = [variable("n/a/kernel", np.zeros(2)), variable("n/b/kernel", np.zeros(2))]
    opt = optimizers.make({"name": "sgd(momentum=0.0)", "lr": 1.0, "grad_clip_norm": clip})
    got = run_steps(opt, variables, [grads])
    for g, w in zip(got, grads):
      np.testing.assert_allclose(g, -scale * w, rtol=1e-6)


# --- Schedules -------------------------------------------------------------------------------------------

def schedule_values(spec, steps, lr=1.0, total_steps=100):
  sched = optimizers.make_schedule(spec, lr=lr, total_steps=total_steps)
  return [float(sched(tf.constant(s, tf.int64))) for s in steps]


def test_rsqrt_schedule():
  spec = "rsqrt(warmup_steps=10, cooldown_steps=20, timescale=10)"
  # step 0, mid-warmup, peak, mid-decay, start and middle of the cooldown, end.
  got = schedule_values(spec, [0, 5, 10, 40, 80, 90, 100], lr=0.5)
  want = [0, 0.5 * 0.5, 0.5, 0.5 / 2, 0.5 / np.sqrt(8), 0.5 / 3 * 0.5, 0]
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-9)
  shifted = schedule_values("rsqrt(warmup_steps=10, timescale=10, shift=30)", [0, 5, 10, 40])
  np.testing.assert_allclose(shifted, [0, 0.5 / 2, 1 / 2, 1 / np.sqrt(7)], rtol=1e-6)
  # A branch restarting its step counter at the main run's step 50 (shift = 50 - 10, own warmup 5)
  # continues the main run's rate after its warmup.
  main = schedule_values("rsqrt(warmup_steps=10, timescale=10)", [57, 80])
  branch = schedule_values("rsqrt(warmup_steps=5, timescale=10, shift=40)", [12, 35])
  np.testing.assert_allclose(branch, main, rtol=1e-6)


def test_cosine_linear_constant_piecewise_schedules():
  np.testing.assert_allclose(schedule_values("cosine(warmup_steps=10)", [0, 5, 10, 60, 110], total_steps=110),
                             [0, 0.5, 1, 0.5, 0], atol=1e-6)
  np.testing.assert_allclose(
      schedule_values("linear(warmup_steps=10, end=0.1)", [0, 5, 10, 60, 110], lr=2.0, total_steps=110),
      [0, 1.0, 2.0, 1.1, 0.2], rtol=1e-6)
  np.testing.assert_allclose(schedule_values("constant(warmup_steps=10)", [0, 5, 10, 99]), [0, 0.5, 1, 1])
  np.testing.assert_allclose(
      schedule_values("constant(cooldown_steps=20)", [0, 80, 90, 100]), [1, 1, 0.5, 0], atol=1e-7)
  np.testing.assert_allclose(
      schedule_values("piecewise(boundaries=(0.3, 0.6, 0.9), factor=0.1, warmup_steps=100)",
                      [0, 50, 100, 299, 300, 600, 999], total_steps=1000),
      [0, 0.5, 1, 1, 0.1, 0.01, 0.001], rtol=1e-5)


def test_schedule_serializes():
  sched = optimizers.make_schedule("rsqrt(warmup_steps=3, timescale=7, shift=2)", lr=0.3, total_steps=50)
  clone = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(sched))
  assert isinstance(clone, optimizers.Rsqrt) and clone.get_config() == sched.get_config()


# --- Memory, errors, checkpoints -------------------------------------------------------------------------

def test_adafactor_state_is_at_most_a_third_of_adams():
  # One ViT-B/16 encoder block, the patch embedding and a 1000-class head.
  shapes = [(768, 2304), (2304,), (768, 768), (768,), (768, 3072), (3072,), (3072, 768), (768,),
            (768,), (768,), (768,), (768,), (768, 768), (768, 1000), (1000,)]
  variables = [variable(f"vit/v{i}/kernel", np.zeros(s, "float32")) for i, s in enumerate(shapes)]
  sizes = {}
  for name in ("adam", "adafactor_bv"):
    opt = optimizers.make({"name": name, "lr": 1e-3})
    opt.build(variables)
    sizes[name] = optimizers.optimizer_state_bytes(opt)
  params = sum(int(np.prod(s)) for s in shapes)
  assert sizes["adam"] == 8 * params + 8  # two float32 moments + the int64 step counter
  assert sizes["adafactor_bv"] <= sizes["adam"] / 3, sizes


def test_unknown_names_and_keys_suggest_close_matches():
  with pytest.raises(SpecError, match="adafactor_bv"):
    optimizers.make({"name": "adafactor", "lr": 0.1})
  with pytest.raises(SpecError, match="grad_clip_norm"):
    optimizers.make({"name": "sgd", "lr": 0.1, "grad_clip": 1.0})
  with pytest.raises(SpecError, match="momentum"):
    optimizers.make({"name": "sgd(momentun=0.9)", "lr": 0.1})
  with pytest.raises(SpecError, match="config.optimizer.wd"):
    optimizers.make({"name": "adam(wd=0.1)", "lr": 0.1})
  with pytest.raises(SpecError, match="rsqrt"):
    optimizers.make({"name": "sgd", "lr": 0.1, "schedule": "rsqr(warmup_steps=1)"}, total_steps=10)
  with pytest.raises(SpecError, match="timescale"):
    optimizers.make({"name": "sgd", "lr": 0.1, "schedule": "rsqrt(time_scale=1)"}, total_steps=10)
  with pytest.raises(SpecError, match="lr"):
    optimizers.make({"name": "sgd"})


def test_config_dict_and_keras_serialization():
  import ml_collections
  config = ml_collections.ConfigDict({"name": "adafactor_bv(momentum=0.8)", "lr": 8e-4, "wd": 0.03 * 8e-4,
                                      "wd_mults": [(".*head/kernel", 100.0), (".*/kernel", 1.0)],
                                      "schedule": "rsqrt(warmup_steps=10, cooldown_steps=50)",
                                      "grad_clip_norm": 1.0, "frozen": None, "lr_mults": None})
  opt = optimizers.make(config, total_steps=1000)
  assert isinstance(opt, keras.optimizers.Optimizer) and opt.momentum == 0.8
  clone = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
  assert type(clone) is optimizers.AdafactorBV and clone.get_config() == opt.get_config()


def test_checkpoint_restore_gives_identical_next_update(tmp_path):
  shapes = [(64, 48), (40,)]
  grads = random_grads(shapes, steps=3, seed=4)
  config = {"name": "adafactor_bv", "lr": 0.1, "wd": 1e-3, "schedule": "rsqrt(warmup_steps=2, timescale=5)"}

  def setup():
    variables = [variable(f"net/c{i}/kernel", np.ones(s)) for i, s in enumerate(shapes)]
    opt = optimizers.make(config, total_steps=100)
    opt.build(variables)
    return opt, variables, tf.train.Checkpoint(optimizer=opt, params=variables)

  opt, variables, ckpt = setup()
  for g in grads[:2]:
    opt.apply([tf.constant(x) for x in g], variables)
  path = ckpt.save(str(tmp_path / "ckpt"))
  opt2, variables2, ckpt2 = setup()
  ckpt2.restore(path).assert_consumed()
  assert int(opt2.iterations) == 2
  for o, v in ((opt, variables), (opt2, variables2)):
    o.apply([tf.constant(x) for x in grads[2]], v)
  for a, b in zip(variables + opt.variables, variables2 + opt2.variables):
    np.testing.assert_array_equal(np.asarray(a.numpy(), "float32"), np.asarray(b.numpy(), "float32"))


def test_keras_fit_and_keras_file_keep_the_optimizer_state(tmp_path):
  inputs = keras.Input((8,))
  outputs = keras.layers.Dense(36, name="head")(keras.layers.Dense(40, name="body")(inputs))
  model = keras.Model(inputs, outputs, name="net")
  model.compile(loss="mse", optimizer=optimizers.make(
      {"name": "adafactor_bv", "lr": 0.01, "wd": 1e-3, "frozen": "body/bias"}, total_steps=10))
  model.fit(np.ones((4, 8)), np.ones((4, 36)), epochs=2, verbose=0)
  np.testing.assert_array_equal(model.get_layer("body").bias.numpy(), np.zeros(40))  # frozen
  model.save(tmp_path / "m.keras")
  loaded = keras.models.load_model(tmp_path / "m.keras")
  assert type(loaded.optimizer) is optimizers.AdafactorBV and int(loaded.optimizer.iterations) == 2
  assert [v.name for v in loaded.optimizer.variables] == [v.name for v in model.optimizer.variables]
  for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
    np.testing.assert_array_equal(np.asarray(a.numpy(), "float32"), np.asarray(b.numpy(), "float32"))


def test_loss_scale_optimizer_wraps():
  opt = optimizers.make({"name": "sgd(momentum=0.0)", "lr": 0.5, "frozen": ".*frozen.*"})
  wrapped = keras.optimizers.LossScaleOptimizer(opt)
  variables = [variable("m/d/kernel", np.ones(2)), variable("m/frozen/kernel", np.ones(2))]
  trained = optimizers.filter_trainable(wrapped, variables)
  assert optimizers.unwrap(wrapped) is opt and trained == variables[:1]
  wrapped.build(trained)
  scale = float(wrapped.dynamic_scale.numpy())
  wrapped.apply([tf.fill([2], 2.0 * scale)], trained)
  np.testing.assert_allclose(variables[0].numpy(), [0.0, 0.0])


MIRRORED_SCRIPT = textwrap.dedent("""
  import json, os
  os.environ["KERAS_BACKEND"] = "tensorflow"
  import tensorflow as tf
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
  import keras, numpy as np
  from model_garden import optimizers

  rng = np.random.default_rng(0)
  per_replica = [[0.6 * rng.normal(size=(40, 36)).astype("float32") / 36 for _ in range(2)]
                 for _ in range(3)]  # each replica's gradient has norm < 1, their sum > 1 often
  results = {}
  for name in ("sgd(momentum=0.9)", "adafactor_bv", "adam"):
    config = {"name": name, "lr": 0.1, "wd": 1e-3, "grad_clip_norm": 0.5}
    def make_var():
      with keras.name_scope("net"):
        return keras.Variable(np.ones((40, 36), "float32"), name="kernel")
    # Reference: one device, summed gradients.
    ref_var = make_var()
    ref = optimizers.make(config)
    for g0, g1 in per_replica:
      ref.apply([tf.constant(g0 + g1)], [ref_var])
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
      var = make_var()
      opt = optimizers.make(config)
      if name == "adam":
        opt = keras.optimizers.LossScaleOptimizer(opt)
      opt.build([var])
    @tf.function
    def step(grads):
      def replica_fn(g):
        if name == "adam":
          g = g * opt.dynamic_scale
        opt.apply([g], [var])
      strategy.run(replica_fn, args=(grads,))
    for pair in per_replica:
      step(strategy.experimental_distribute_values_from_function(
          lambda ctx, pair=pair: tf.constant(pair[ctx.replica_id_in_sync_group])))
    values = [np.asarray(v) for v in strategy.experimental_local_results(var.value)]
    results[name] = [float(np.abs(v - ref_var.numpy()).max()) for v in values]
  print("RESULT" + json.dumps(results))
""")


def test_mirrored_strategy_matches_single_device_with_summed_gradients():
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
  proc = subprocess.run([sys.executable, "-c", MIRRORED_SCRIPT], capture_output=True, text=True, timeout=300,
                        env=env, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
  assert proc.returncode == 0 and lines, proc.stderr[-3000:]
  for name, diffs in json.loads(lines[-1][len("RESULT"):]).items():
    assert len(diffs) == 2 and max(diffs) < 1e-5, (name, diffs)

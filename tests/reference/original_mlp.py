"""0.6.13's DeepLIFT rules for a Sequential Dense MLP, in float64 NumPy,
with the error bound of 0.6.13's float32 RevealCancel scale factors.

Written from 0.6.13's formulas (``layers/core.py`` Dense,
``layers/activations.py`` RevealCancel, ``helper_functions``
``pseudocount_near_zero``), not from its code, to explain where a float32
answer of 0.6.13 (or ours) may differ from another float32 answer: where a
unit's positive or negative input part is (near) zero, 0.6.13 divides a
float32 finite difference over its 1e-7 pseudocount by that pseudocount, so
the last bits of the unit's reference pre-activation decide the scale
factor (see tests/reference/README.md, "RevealCancel and the last bits").

:func:`contribs` gives, for inputs ``x`` and references ``ref`` (N, D), the
input contributions to one output unit in float64, and for every
RevealCancel scale factor ``(layer, part, unit)`` its float32 error bound
and the exact sensitivity of every contribution to it (the contributions
are linear in each scale factor).
"""
import numpy as np

NEAR_ZERO_THRESHOLD = 1e-7   # 0.6.13's deeplift.util.NEAR_ZERO_THRESHOLD

#: accuracy, in float32 ulps of the result, of one float32 evaluation of
#: an activation by TensorFlow's CPU kernels: ReLU is exact; the sigmoid
#: (a vectorised rational approximation) measured at most 6.4 ulps over
#: [-16, 16] with TensorFlow 2.21 on an AVX2 CPU with either kernel
#: library; 8 leaves room for other vector widths (checked on the machine
#: that runs the tests by tests/test_against_original.py::
#: test_sigmoid_accuracy_assumed_by_the_conditioning_bound)
F32_ULPS = {"relu": 0.0, "sigmoid": 8.0, "linear": 0.0}


def _relu(z):
    return np.maximum(z, 0.0)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


FUNCS = {"relu": (_relu, lambda z: (z > 0).astype(np.float64)),
         "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1 - _sigmoid(z)))}


def pseudocount_near_zero(t):
    """0.6.13's: |t| < threshold/2 moved away from 0 by the threshold
    (zero counts as positive)."""
    near = np.abs(t) < 0.5 * NEAR_ZERO_THRESHOLD
    return np.where(near, np.where(t >= 0, t + NEAR_ZERO_THRESHOLD,
                                   t - NEAR_ZERO_THRESHOLD), t)


def _ulp32(v):
    v = np.abs(np.asarray(v, dtype=np.float32))
    return np.spacing(v).astype(np.float64)


def _sign_parts(d, w):
    """Dense positive / negative input parts (0.6.13's sign split)."""
    dp, dn = np.maximum(d, 0), np.minimum(d, 0)
    wp, wn = np.maximum(w, 0), np.minimum(w, 0)
    return dp @ wp + dn @ wn, dp @ wn + dn @ wp


def _shapley(f, r, a, b):
    """Effect of adding ``a`` to ``r``, mean of first and after ``b``."""
    return 0.5 * ((f(r + a) - f(r)) + (f(r + b + a) - f(r + b)))


def _diff_error(name, r, h):
    """float32 error bound of ``f(r + h) - f(r)`` computed in float32: each
    f value within F32_ULPS of its ulp, plus the rounding of each argument
    to float32 (half an ulp of it, times the slope)."""
    f, fp = FUNCS[name]
    eps = F32_ULPS[name]
    return (eps * (_ulp32(f(r + h)) + _ulp32(f(r)))
            + 0.5 * (np.abs(fp(r + h)) * _ulp32(r + h)
                     + np.abs(fp(r)) * _ulp32(r)))


def _forward(layers, x, ref):
    """Per hidden layer: (input diff, pos/neg parts, pseudocounted parts,
    reference pre-activation); and the last layer's input diff."""
    states = []
    a, r = x, ref
    for w, b, act in layers[:-1]:
        d = a - r
        pos, neg = _sign_parts(d, w)
        zr = r @ w + b
        states.append(dict(d=d, pos=pos, neg=neg,
                           pc_pos=pseudocount_near_zero(pos),
                           pc_neg=pseudocount_near_zero(neg), zr=zr,
                           act=act))
        f = FUNCS[act][0]
        a, r = f(a @ w + b), f(zr)
    return states, a - r


def _dense_back(d, w, pm, nm):
    """0.6.13's Dense multipliers of the input (same for pos and neg)."""
    wp, wn = np.maximum(w, 0).T, np.minimum(w, 0).T
    return ((d > 0) * (pm @ wp + nm @ wn) + (d < 0) * (pm @ wn + nm @ wp)
            + (d == 0) * (0.5 * (pm + nm) @ w.T))


def _scales(state):
    """RevealCancel scale factors (pos, neg) in float64 and their float32
    error bounds."""
    f = FUNCS[state["act"]][0]
    zr, pp, pn = state["zr"], state["pc_pos"], state["pc_neg"]
    scale_p = _shapley(f, zr, pp, pn) / pp
    scale_n = _shapley(f, zr, pn, pp) / pn
    name = state["act"]
    err_p = 0.5 * (_diff_error(name, zr, pp)
                   + _diff_error(name, zr + pn, pp)) / np.abs(pp)
    err_n = 0.5 * (_diff_error(name, zr, pn)
                   + _diff_error(name, zr + pp, pn)) / np.abs(pn)
    return (scale_p, scale_n), (err_p, err_n)


def _backward(layers, states, last_d, x, ref, task, scales):
    w_last = layers[-1][0]
    n = len(x)
    m = np.zeros((n, w_last.shape[1]))
    m[:, task] = 1.0
    m = _dense_back(last_d, w_last, m, m)
    pm = nm = m
    for i in range(len(states) - 1, -1, -1):
        sp, sn = scales[i]
        pm, nm = sp * pm, sn * nm
        w = layers[i][0]
        m = _dense_back(states[i]["d"], w, pm, nm)
        pm = nm = m
    return m * (x - ref)


def contribs(layers, x, ref, task):
    """``layers``: [(kernel, bias, activation)] of the MLP, the last one the
    target (pre-activation); every hidden activation under RevealCancel.

    Returns ``(contribs, bounds, units)``: the float64 contributions (N, D);
    for each element the float32 error bound of 0.6.13's scale factors
    carried to it, ``sum_u |d contribs / d scale_u| * err_u`` (N, D); and
    ``units``, per example, ``[(layer, part, unit, part value, scale,
    err, its share of the largest bound)]`` sorted by share."""
    x = np.asarray(x, np.float64)
    ref = np.broadcast_to(np.asarray(ref, np.float64), x.shape)
    layers = [(np.asarray(w, np.float64), np.asarray(b, np.float64), a)
              for w, b, a in layers]
    states, last_d = _forward(layers, x, ref)
    scales, errors = zip(*[_scales(s) for s in states])
    base = _backward(layers, states, last_d, x, ref, task, scales)
    bounds = np.zeros_like(base)
    units = [[] for _ in range(len(x))]
    for i, state in enumerate(states):
        for part in (0, 1):
            for u in range(state["zr"].shape[1]):
                bumped = [list(s) for s in scales]
                bumped[i][part] = bumped[i][part].copy()
                bumped[i][part][:, u] += 1.0
                # contributions are linear in one scale factor: the change
                # for +1 is the exact sensitivity
                sens = _backward(layers, states, last_d, x, ref, task,
                                 bumped) - base
                err = errors[i][part][:, u]
                share = np.abs(sens) * err[:, None]
                bounds += share
                for e in range(len(x)):
                    units[e].append((i, ("positive", "negative")[part], u,
                                     float((state["pos"], state["neg"])
                                           [part][e, u]),
                                     float(scales[i][part][e, u]),
                                     float(err[e]),
                                     float(share[e].max())))
    units = [sorted(us, key=lambda t: -t[-1]) for us in units]
    return base, bounds, units

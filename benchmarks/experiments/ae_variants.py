"""One-off prototype behind issue 9's choices for the AE defaults (run by hand).

A plain-TensorFlow vectorized autoencoder ensemble (stacked weights, one
compiled step) with the options that were compared on the eight ADBench
tables: members (``M``), early stopping (``es``, ``patience``), trimmed loss
(``trim``, ``warm`` = epochs before trimming starts), per-feature
normalisation of the errors (``score=featnorm``), per-member row subsamples
(``sub``) and the regime (``regimes``: ``U`` contaminated, ``C`` clean, ``UC``
contaminated rows scaled as the clean ones, ``UR`` RobustScaler). It is not
the library's implementation (see ``sklearn_daml/_ensemble.py``); it prints
one JSON line per table and regime::

    python -m benchmarks.experiments.ae_variants T0 M=5 trim=0.1 warm=0 score=featnorm
    python -m benchmarks.experiments.ae_variants IF   # IsolationForest reference

``summarize.py`` beside it averages such lines into a table.
"""
import json, os, sys, time
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")
import numpy as np
import sklearn_daml  # quiet tf
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score, average_precision_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from benchmarks import data

cfg = dict(M=1, epochs=100, es=1, trim=0.0, warm=5, score="mse", act="tanh", latent="sqrt",
           width="default", bs=128, lr=1e-3, seeds="0", tables="all", regimes="U,C", patience=10,
           relval=0, member_norm="z", sub=1.0)
for a in sys.argv[2:]:
    k, v = a.split("=")
    cfg[k] = type(cfg[k])(v) if not isinstance(cfg[k], str) else v
NAME = sys.argv[1]


def init(rng, M, i, o):
    lim = np.sqrt(6 / (i + o))
    return tf.Variable(rng.uniform(-lim, lim, (M, i, o))), tf.Variable(np.zeros((M, 1, o)))


def build(rng, M, f):
    if cfg["width"] == "default":
        h = min(128, max(16, 2 * f)); hidden = [h, h // 2]
    else:
        hidden = [int(w) for w in cfg["width"].split("-")]
    if cfg["latent"] == "sqrt":
        lat = max(1, int(np.ceil(np.sqrt(f))))
    else:
        lat = int(cfg["latent"])
    sizes = [f] + hidden + [lat] + hidden[::-1] + [f]
    layers = [init(rng, M, a, b) for a, b in zip(sizes[:-1], sizes[1:])]
    n_enc = len(hidden) + 1
    return layers, n_enc


act = getattr(tf.nn, cfg["act"]) if cfg["act"] != "leaky_relu" else tf.nn.leaky_relu


def forward(layers, n_enc, x):
    members = layers[0][0].shape[0]
    h = tf.broadcast_to(x[None], [members, tf.shape(x)[0], x.shape[1]])
    L = len(layers)
    for j, (W, b) in enumerate(layers):
        h = tf.matmul(h, W) + b
        if j != L - 1 and j != n_enc - 1:
            h = act(h)
    return h  # (M, n, f)


def fit_score(Xtr, Xte, seed):
    rng = np.random.RandomState(seed)
    M = cfg["M"]
    layers, n_enc = build(rng, M, Xtr.shape[1])
    vars_ = [v for l in layers for v in l]
    opt = tf.keras.optimizers.Adam(cfg["lr"])
    opt.build(vars_)
    trim = tf.constant(cfg["trim"], tf.float64)
    use_trim = tf.Variable(False)

    @tf.function(input_signature=[tf.TensorSpec([None, Xtr.shape[1]], tf.float64), tf.TensorSpec([M, None], tf.float64)])
    def step(x, w):
        with tf.GradientTape() as tape:
            err = tf.reduce_mean(tf.square(forward(layers, n_enc, x) - x[None]), axis=-1)  # (M, n)
            if cfg["trim"] > 0:
                n = tf.shape(err)[1]
                keep = n - tf.cast(tf.math.floor(trim * tf.cast(n, tf.float64)), tf.int32)
                keep = tf.where(use_trim, keep, n)
                srt = tf.sort(err, axis=1)
                thr = tf.gather(srt, keep - 1, axis=1)[:, None]
                mask = tf.cast(err <= thr, tf.float64) * w
                loss = tf.reduce_sum(tf.reduce_sum(err * mask, 1) / tf.maximum(tf.reduce_sum(mask, 1), 1.0))
            else:
                loss = tf.reduce_sum(tf.reduce_sum(err * w, 1) / tf.maximum(tf.reduce_sum(w, 1), 1.0))
        g = tape.gradient(loss, vars_)
        opt.apply_gradients(zip(g, vars_))
        return loss / M

    @tf.function(input_signature=[tf.TensorSpec([None, Xtr.shape[1]], tf.float64)])
    def errs(x):
        return tf.square(forward(layers, n_enc, x) - x[None])  # (M, n, f)

    n = Xtr.shape[0]
    if cfg["es"]:
        order = rng.permutation(n); nv = max(1, round(0.1 * n))
        Xt, Xv = Xtr[order[nv:]], Xtr[order[:nv]]
    else:
        Xt, Xv = Xtr, None
    best, best_w, stale = np.inf, None, 0
    W = (rng.uniform(size=(M, Xt.shape[0])) < cfg["sub"]).astype(np.float64)
    nb = max(1, round(Xt.shape[0] / cfg["bs"]))
    for ep in range(cfg["epochs"]):
        use_trim.assign(ep >= cfg["warm"])
        perm = rng.permutation(Xt.shape[0])
        ls = [step(tf.constant(Xt[idx]), tf.constant(W[:, idx])) for idx in np.array_split(perm, nb)]
        if Xv is not None:
            e = errs(tf.constant(Xv)).numpy().mean(-1)  # (M, nv)
            if cfg["trim"] > 0 and ep >= cfg["warm"]:
                k = Xv.shape[0] - int(np.floor(cfg["trim"] * Xv.shape[0]))
                e = np.sort(e, 1)[:, :k]
            vl = e.mean()
            tol = 1e-4 * (abs(best) if cfg["relval"] and np.isfinite(best) else 1.0)
            if vl < best:
                best_w = [v.numpy() for v in vars_]
            stale = 0 if vl < best - tol else stale + 1
            best = min(best, vl)
            if stale >= cfg["patience"]:
                break
    if best_w is not None:
        for v, w in zip(vars_, best_w):
            v.assign(w)
    Etr = errs(tf.constant(Xtr)).numpy()  # (M, n, f)
    Ete = errs(tf.constant(Xte)).numpy()
    sc = cfg["score"]
    if sc == "mse":
        str_, ste = Etr.mean(-1), Ete.mean(-1)
    elif sc == "featnorm":  # per-feature standardized by member's mean training error
        v = Etr.mean(1, keepdims=True) + 1e-12
        str_, ste = (Etr / v).mean(-1), (Ete / v).mean(-1)
    elif sc == "featmed":
        v = np.median(Etr, 1, keepdims=True) + 1e-12
        str_, ste = (Etr / v).mean(-1), (Ete / v).mean(-1)
    elif sc == "featsqrt":  # mean of per-feature |err|/rms
        v = np.sqrt(Etr.mean(1, keepdims=True)) + 1e-12
        str_, ste = (np.sqrt(Etr) / v).mean(-1), (np.sqrt(Ete) / v).mean(-1)
    if cfg["member_norm"] == "z":
        mu, sd = str_.mean(1, keepdims=True), str_.std(1, keepdims=True) + 1e-12
    else:
        mu, sd = 0.0, np.median(str_, 1, keepdims=True)
    return ((ste - mu) / sd).mean(0), ep + 1


tables = list(data.ADBENCH) if cfg["tables"] == "all" else cfg["tables"].split(",")
for ds in tables:
    X, y = data.adbench(ds)
    for seed in [int(s) for s in cfg["seeds"].split(",")]:
        Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
        for regime in cfg["regimes"].split(","):
            Xf = Xtr[ytr == 0] if regime == "C" else Xtr
            if regime == "UC":
                sc = StandardScaler().fit(Xtr[ytr == 0])
            elif regime == "UR":
                from sklearn.preprocessing import RobustScaler
                sc = RobustScaler().fit(Xf)
            else:
                sc = StandardScaler().fit(Xf)
            t = time.perf_counter()
            if NAME == "IF":
                s = -IsolationForest(random_state=seed).fit(sc.transform(Xf)).score_samples(sc.transform(Xte)); ep = 0
            else:
                s, ep = fit_score(sc.transform(Xf), sc.transform(Xte), seed)
            dt = time.perf_counter() - t
            print(json.dumps(dict(name=NAME, ds=ds, seed=seed, regime=regime, auc=roc_auc_score(yte, s),
                                  ap=average_precision_score(yte, s), t=dt, ep=ep)), flush=True)

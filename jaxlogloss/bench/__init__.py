"""``jaxlogloss bench``: speed against the peers and the hardware limit, in one run.

Measured side by side on the same data (X: n x d, standard normal; labels from a
logistic model), with timing hygiene -- a warm-up (compile) call, ``block_until_ready``,
medians of several repeats, fresh parameters every call:

1. ``ceiling``: the device's memory bandwidth from an in-place ``x + 1`` over a large
   buffer (bytes read plus written); every later figure is also given as a fraction of it.
2. ``grad``: one gradient of the mean log-loss per size, jax.grad on the feature-major
   layout (the framework's path), jax.grad on a row-major X, the closed form, NumPy's
   closed form, PyTorch's autograd (when installed): median ms, achieved GB/s, ratio to
   the two-pass floor (2 |X| / bandwidth) and to the one-pass ideal of a fused kernel.
3. ``fit``: time to the optimum for Newton, L-BFGS and adam against scikit-learn's lbfgs
   and newton-cholesky, a NumPy gradient-descent loop and PyTorch's L-BFGS; each must
   reach the best mean log-loss within ``1e-6`` relative, else "not comparable".
   Compilation is timed apart from the steady state.
4. ``sweep``: an L2 path of K fits in one vmapped call against K sequential fits.
5. ``penalised``: an L1 path, L1 and L2 cross-validation against skglm and
   scikit-learn (saga path, ``LogisticRegressionCV``), with the objective gap at every
   alpha (:mod:`jaxlogloss.bench.penalised`; 100,000 x 50, 20 alphas, 5 folds).
6. ``memory``: peak resident memory of a fit, in a child process, over the bytes of X.

Peers that are not installed are skipped with a note. Keys of ratios end in ``_ratio``
or are named ``speedup``. :func:`run_bench` returns the JSON-able result.

Modules: ``workload`` (the data, the reference loss), ``timing`` (timers, the
bandwidth ceiling), ``peers`` (NumPy, scikit-learn, PyTorch), ``parts`` (gradient, fit,
sweep), ``penalised`` (paths and CV), ``memory`` (peak memory), ``report`` (tables, plot), ``run`` (all of it).
"""

from jaxlogloss.bench.memory import bench_memory as bench_memory
from jaxlogloss.bench.parts import COMPARABLE_RTOL as COMPARABLE_RTOL
from jaxlogloss.bench.parts import bench_fit as bench_fit
from jaxlogloss.bench.parts import bench_grad as bench_grad
from jaxlogloss.bench.parts import bench_sweep as bench_sweep
from jaxlogloss.bench.report import plot as plot
from jaxlogloss.bench.run import parse_sizes as parse_sizes
from jaxlogloss.bench.run import run_bench as run_bench
from jaxlogloss.bench.timing import median_seconds as median_seconds
from jaxlogloss.bench.timing import memory_ceiling as memory_ceiling
from jaxlogloss.bench.timing import timed as timed
from jaxlogloss.bench.workload import make_data as make_data
from jaxlogloss.bench.workload import mean_log_loss as mean_log_loss

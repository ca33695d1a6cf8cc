"""The values of ``core/`` that the App's layers offer, show or check: the ``{value: words}``
tables behind every choice in a form, the statuses and review answers the panels draw, and
the few core helpers a form calls while the user types (among them the parameter
declarations a form is built from, ``declarations`` and ``applies``). Operators and panels import these
from here and never ``core/`` itself (``tests/test_layout.py``), so the App stands on the
bridge alone; each value still lives in the core module that checks it."""

from ..core.decisions import INFLUENTIAL, OUTLIER, REDUNDANT, REPRESENTATIVE, STATUSES, UNIQUE
from ..core.extras import require_features
from ..core.feature_analysis import REDUCTIONS
from ..core.features import ExtractionParameters
from ..core.images import COLORS, NORMALIZATIONS
from ..core.pair_score import STORED_FLOOR, PairScoreParameters
from ..core.parallel import RAY_MISSING, RayExecutor
from ..core.parameters import applies, declarations
from ..core.review import DIFFERENT, LABELS_DIFFER, ORDERS, SAME, SKIPPED
from ..core.spectral import RULES, read_spectrum
from ..core.split_repair import RepairParameters
from ..core.split_similarity import MODES as SPLIT_MODES
from ..core.ssim_analysis import GROUPINGS as SSIM_GROUPINGS
from ..core.ssim_analysis import MODES as SSIM_MODES
from ..core.ssim_analysis import SSIMParameters, dense_bytes
from ..core.timing import timed
from ..core.training import BUDGETS
from ..core.wavelet_analysis import GROUPINGS as WAVELET_GROUPINGS

__all__ = [
    "BUDGETS", "COLORS", "DIFFERENT", "INFLUENTIAL", "LABELS_DIFFER", "NORMALIZATIONS", "ORDERS", "OUTLIER",
    "RAY_MISSING", "REDUCTIONS", "REDUNDANT", "REPRESENTATIVE", "RULES", "SAME", "SKIPPED", "SPLIT_MODES",
    "SSIM_GROUPINGS", "SSIM_MODES", "STATUSES", "STORED_FLOOR", "UNIQUE", "WAVELET_GROUPINGS", "PairScoreParameters",
    "ExtractionParameters", "RayExecutor", "RepairParameters", "SSIMParameters", "applies", "declarations", "dense_bytes",
    "read_spectrum", "require_features", "timed",
]  # fmt: skip

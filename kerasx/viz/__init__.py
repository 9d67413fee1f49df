"""History plots, summaries, model diagrams and weight statistics that work everywhere.

- `plot_history`: loss and metric curves from a History, a log file or several runs.
- `summary`, `summary_table`: a model summary as text, as rows, and as HTML in Jupyter.
- `plot_model`: a model diagram with Graphviz when present, a pure-Python renderer when not.
- `weight_stats`, `plot_weights`: per-variable weight statistics and histograms.

Nothing heavy (matplotlib, Keras) is imported until a function is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kerasx._lazy import Facade, module_functions

if TYPE_CHECKING:  # pragma: no cover - for IDEs and type checkers only
    from kerasx.viz._diagram import plot_model
    from kerasx.viz._history import plot_history
    from kerasx.viz._summary import ModelSummary, summary, summary_table
    from kerasx.viz._weight_plot import plot_weights
    from kerasx.viz._weight_stats import weight_stats

_OWN = {
    "plot_history": "kerasx.viz._history:plot_history",
    "summary": "kerasx.viz._summary:summary",
    "summary_table": "kerasx.viz._summary:summary_table",
    "ModelSummary": "kerasx.viz._summary:ModelSummary",
    "plot_model": "kerasx.viz._diagram:plot_model",
    "weight_stats": "kerasx.viz._weight_stats:weight_stats",
    "plot_weights": "kerasx.viz._weight_plot:plot_weights",
}

OWN_NAMES: tuple[str, ...] = tuple(sorted(_OWN))

__all__ = [
    "ModelSummary",
    "plot_history",
    "plot_model",
    "plot_weights",
    "summary",
    "summary_table",
    "weight_stats",
]

_facade = Facade(__name__, _OWN)
__getattr__, __dir__ = module_functions(_facade, globals())

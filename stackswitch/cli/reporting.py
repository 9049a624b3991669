"""How ``stackswitch compare`` shows its figures: a text table, and bar charts on request.

The plot is an optional extra (``pip install 'stackswitch[plot]'``): matplotlib
is imported only to draw, and its absence is bad input, found before anything
is measured (:func:`check_plotting`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .failures import InputError
from .measuring import Figures

# -- the table ---------------------------------------------------------------------------------


def _num(value: float | int | None, digits: int = 0) -> str:
    """A figure with thousands separators; "n/a" where there is none."""
    if value is None:
        return "n/a"
    if isinstance(value, int) or digits == 0:
        return f"{round(value):,}"
    return f"{value:,.{digits}f}"


def _short(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters."""
    text = text.replace("\n", " | ")
    return text if len(text) <= width else text[:width - 1] + "…"


def rows(columns: Sequence[Figures], given_sizes: list[int] | None = None
         ) -> list[tuple[str, list[str]]]:
    """The table's rows: a label and one cell per strategy."""
    def row(label: str, cell: Callable[[Figures], str]) -> tuple[str, list[str]]:
        return label, [cell(f) for f in columns]

    table = [
        row("result (warm-up run)", lambda f: _short(f.result, 24)),
        row("timed runs", lambda f: _num(f.runs)),
        row("wall time (ms)", lambda f: _num(f.wall_s * 1e3, 1)),
        row("per run, median (µs)", lambda f: _num(f.us_per_run, 1)),
        row("events delivered", lambda f: _num(f.events)),
        row("per event (µs)", lambda f: _num(f.us_per_event, 2)),
        row("greenlet switches", lambda f: _num(f.switches)),
        row("fiber suspensions", lambda f: _num(f.suspensions)),
        row("parked calls", lambda f: _num(f.parks)),
        row("asyncify unwinds", lambda f: _num(f.unwinds)),
        row("asyncify rewinds", lambda f: _num(f.rewinds)),
        row("peak memory (MiB over loaded)",
            lambda f: _num(None if f.peak_kib is None else f.peak_kib / 1024, 2)
            + (" (since start)" if f.peak_since_start else "")),
    ]
    if any(f.pumped for f in columns):  # the extensions splice, skip, forward were used
        table += [
            row("values moved by pumps", lambda f: _num(f.pumped)),
            row("bytes kept out of memory", lambda f: _num(f.bytes_kept_out)),
        ]
    if any(f.started for f in columns):
        started = max(f.started for f in columns)
        table += [
            row(f"calls suspended, of {started:,}", lambda f: _num(f.suspended)),
            row("threads waiting", lambda f: _num(f.waiting)),
            row("memory per suspended call (KiB)", lambda f: _num(f.kib_per_suspended, 2)),
        ]
    counts = {len(f.module_sizes) for f in columns}
    if given_sizes is not None and counts == {len(given_sizes)}:
        for i, size in enumerate(given_sizes):
            table.append(row(f"core module {i} (bytes; {size:,} given)",
                             lambda f, i=i: _num(f.module_sizes[i])))
    elif len(counts) == 1 and counts != {0} and max(counts) <= 8:
        for i in range(max(counts)):
            table.append(row(f"core module {i} (bytes)", lambda f, i=i: _num(f.module_sizes[i])))
    else:
        table.append(row("core modules compiled", lambda f: _num(len(f.module_sizes))))
    table.append(row("core code compiled (bytes)", lambda f: _num(sum(f.module_sizes))))
    return table


def format_table(columns: Sequence[Figures], what: str,
                 given_sizes: list[int] | None = None) -> str:
    """The figures as a text table, one column per strategy."""
    table = rows(columns, given_sizes)
    label_width = max(len(label) for label, _ in table)
    widths = [max(len(f.strategy), *(len(cells[i]) for _, cells in table))
              for i, f in enumerate(columns)]
    lines = [f"stackswitch compare: {what}",
             " " * label_width + "".join(f"  {f.strategy:>{w}}" for f, w in zip(columns, widths,
                                                                                strict=True))]
    for label, cells in table:
        lines.append(f"{label:<{label_width}}"
                     + "".join(f"  {c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    return "\n".join(lines) + "\n"


# -- the plot ----------------------------------------------------------------------------------


def _pyplot() -> Any:
    """matplotlib's pyplot, drawing to files only; :class:`InputError` if not installed."""
    try:
        import matplotlib
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'stackswitch[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_plotting() -> None:
    """Fail now, not after minutes of measuring, if the plot cannot be drawn."""
    _pyplot()


PLOTTED: list[tuple[str, Callable[[Figures], float | None]]] = [
    ("µs per run (median)", lambda f: f.us_per_run),
    ("µs per event", lambda f: f.us_per_event),
    ("events delivered", lambda f: f.events),
    ("greenlet switches", lambda f: f.switches),
    ("fiber suspensions", lambda f: f.suspensions),
    ("parked calls", lambda f: f.parks),
    ("asyncify unwinds", lambda f: f.unwinds),
    ("asyncify rewinds", lambda f: f.rewinds),
    ("peak MiB over loaded", lambda f: None if f.peak_kib is None else f.peak_kib / 1024),
    ("KiB per suspended call", lambda f: f.kib_per_suspended),
    ("core code compiled (KiB)", lambda f: sum(f.module_sizes) / 1024),
]
"""The panels of the plot: a title and the figure each bar shows."""


def _label(v: float | None) -> str:
    """A bar's figure, written over it."""
    if v is None:
        return "n/a"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def draw(columns: Sequence[Figures], what: str, path: str) -> None:
    """The table's figures as bar charts, one panel per figure, one bar per strategy."""
    plt = _pyplot()
    ncols = 4
    nrows = -(-len(PLOTTED) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 3 * nrows), squeeze=False)
    names = [f.strategy for f in columns]
    colours = [f"C{i}" for i in range(len(columns))]
    for ax, (title, value) in zip(axes.flat, PLOTTED, strict=False):
        values = [value(f) for f in columns]
        ax.bar(names, [v or 0 for v in values], color=colours)
        for x, v in enumerate(values):
            ax.annotate(_label(v), (x, v or 0), ha="center", va="bottom", fontsize=8)
        ax.set_title(title, fontsize=10)
    for ax in list(axes.flat)[len(PLOTTED):]:
        ax.axis("off")
    fig.suptitle(f"stackswitch compare: {what}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)

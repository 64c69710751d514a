"""The report's HTML page: sections of escaped text and tables, and plotly charts drawn in the browser.

One page holds everything it shows: plotly.js (about 4.8 MB, from the ``plotly`` package,
``nntrain[report]``) inlined once in a ``<script>``, every chart's data and layout in one JSON
block, pictures as base64 ``data:`` URLs -- so it opens offline and makes no request. The charts are
plain plotly figure dicts (``{"data": [...], "layout": {...}}``) built by ``nntrain.report.charts``;
plotly's Python graph objects are not used (slow to build and validate; only its JavaScript is needed).

Every piece of user text (run names, config values, paths) goes through ``esc``; chart JSON is made
safe inside ``<script>`` by escaping ``</``.
"""

import base64
import functools
import html
import json
import math

from ..errors import UsageError

REFRESH_SECONDS = 3  # a live page reloads itself this often while its run is running


def require():
    """plotly is importable, or a UsageError naming the extra to install."""
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise UsageError("the report needs plotly: pip install 'nntrain[report]'") from None


@functools.cache
def plotly_js():
    """plotly.js, minified, as bytes ready to inline (read once per process)."""
    require()
    from plotly.offline import get_plotlyjs

    return get_plotlyjs().replace("</script", "<\\/script").encode("utf-8")


def esc(value):
    """Any value as HTML text, escaped."""
    return html.escape(str(value), quote=True)


def number(value, digits=4):
    """A number as the tables show it: 4 significant digits, integers whole, '—' for none."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return esc(value)


def table(header, rows, numeric=()):
    """An HTML table (``header`` None: none); cells are already HTML (use ``esc`` / ``number``); ``numeric``: column indices
    aligned right."""
    head = f"<thead><tr>{''.join(f'<th>{h}</th>' for h in header)}</tr></thead>" if header else ""
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table>{head}<tbody>{body}</tbody></table>"


def png(data, caption):
    """A PNG's bytes as an inline image with an escaped caption."""
    src = base64.b64encode(data).decode("ascii")
    return f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{src}"><figcaption>{esc(caption)}</figcaption></figure>'


def note(text):
    return f'<p class="note">{esc(text)}</p>'


class Page:
    """A report being assembled: sections of HTML, each with charts placed by ``chart``."""

    def __init__(self, title):
        self.title = title
        self.sections = []  # (anchor, heading, html)
        self.figures = []  # {"id", "data", "layout"}

    def chart(self, figure, wide=False, square=False):
        """A placeholder for a plotly figure dict; returns its HTML (the figure is drawn on load)."""
        div = f"chart-{len(self.figures)}"
        self.figures.append({"id": div, "data": figure["data"], "layout": figure["layout"]})
        return f'<div class="chart{" wide" * wide}{" square" * square}" id="{div}"></div>'

    def section(self, heading, body):
        self.sections.append((f"s{len(self.sections)}", heading, body))

    def render(self, subtitle="", refresh=False):
        """The page as UTF-8 bytes; ``refresh``: it reloads itself every REFRESH_SECONDS (a live run's)."""
        nav = " · ".join(f'<a href="#{a}">{esc(h)}</a>' for a, h, _ in self.sections)
        body = "".join(f'<section id="{a}"><h2>{esc(h)}</h2>{html_}</section>' for a, h, html_ in self.sections)
        meta = f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' if refresh else ""
        figures = json.dumps(self.figures, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
        head = (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">{meta}'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(self.title)}</title><style>{STYLE}</style><script>"
        )
        rest = (
            f"</script></head><body><header><h1>{esc(self.title)}</h1><p>{subtitle}</p><nav>{nav}</nav></header>"
            f'<main>{body}</main><script type="application/json" id="figures">{figures}</script>'
            f"<script>{DRAW}</script></body></html>\n"
        )
        return head.encode("utf-8") + plotly_js() + rest.encode("utf-8")


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#fff;border-bottom:1px solid #ddd;padding:12px 24px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:0 0 8px}
header p{margin:0 0 6px;color:#555;font-size:14px}nav{font-size:13px}nav a{color:#1f5f9f}
main{padding:8px 24px 24px}section{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:12px 16px;margin:12px 0}
.charts{display:flex;flex-wrap:wrap;gap:8px}.chart{width:520px;height:380px}.chart.square{width:600px;height:520px}.chart.wide{width:100%;max-width:1100px;height:440px}
table{border-collapse:collapse;font-size:13px;margin:4px 0}th,td{border-bottom:1px solid #eee;padding:3px 10px;text-align:left}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f6f6;padding:8px;font-size:12px;overflow:auto;max-height:420px}
.note{color:#666;font-style:italic;font-size:13px}figure{display:inline-block;margin:4px}figure img{max-width:480px}
figcaption{font-size:12px;color:#555;text-align:center}.status-running{color:#b86e00}.status-completed{color:#2a7a2a}
"""

# Draws every figure; keeps the scroll position across the live page's reloads.
DRAW = """
(function(){
  var figures = JSON.parse(document.getElementById("figures").textContent);
  figures.forEach(function(f){
    Plotly.newPlot(f.id, f.data, f.layout, {responsive: true, displaylogo: false});
  });
  var key = "nntrain-scroll:" + location.pathname;
  try {
    var y = sessionStorage.getItem(key);
    if (y !== null) window.scrollTo(0, +y);
    window.addEventListener("scroll", function(){ sessionStorage.setItem(key, String(window.scrollY)); });
  } catch (e) {}
})();
"""

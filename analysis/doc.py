"""doc.py - a report as a list of blocks, rendered to Markdown and to self-contained HTML.

Blocks: headings, paragraphs, tables, figures, preformatted text.  A table
may carry a key, written into the Markdown as an HTML comment
(<!-- table:KEY -->) on the line before it, so tests and scripts can find
it; figures are PNG files beside report.md and embedded as base64 in
report.html.

Not for: deciding what goes into a report (report.py).
"""
import base64
import html
import os
import re


class Doc:
    def __init__(self, outdir):
        self.outdir = outdir
        self.blocks = []
        self.figures = []  # file names, in order

    def h(self, level, text):
        self.blocks.append(("h", level, text))

    def p(self, text):
        self.blocks.append(("p", text))

    def note(self, text):
        """A figure or table left out, and why."""
        self.blocks.append(("p", "*Skipped: %s*" % text))

    def table(self, headers, rows, key=None, caption=None):
        if caption:
            self.p(caption)
        self.blocks.append(("table", key, [str(h) for h in headers], [[str(c) for c in r] for r in rows]))

    def pre(self, text):
        self.blocks.append(("pre", text))

    def figure(self, fig, fname, caption):
        """Save a matplotlib figure as fname (PNG) in outdir and reference it."""
        import matplotlib.pyplot as plt
        path = os.path.join(self.outdir, fname)
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        self.figures.append(fname)
        self.blocks.append(("img", fname, caption))

    # ---------- Markdown ----------
    def markdown(self):
        out = []
        for b in self.blocks:
            kind = b[0]
            if kind == "h":
                out.append("#" * b[1] + " " + b[2])
            elif kind == "p":
                out.append(b[1])
            elif kind == "pre":
                out.append("```\n" + b[1].rstrip("\n") + "\n```")
            elif kind == "img":
                out.append("![%s](%s)\n\n*%s*" % (b[1], b[1], b[2]))
            elif kind == "table":
                _, key, headers, rows = b
                lines = []
                if key:
                    lines.append("<!-- table:%s -->" % key)
                lines.append("| " + " | ".join(_cell(h) for h in headers) + " |")
                lines.append("|" + "|".join("---" for _ in headers) + "|")
                for r in rows:
                    lines.append("| " + " | ".join(_cell(c) for c in r) + " |")
                out.append("\n".join(lines))
        return "\n\n".join(out) + "\n"

    # ---------- HTML ----------
    def html(self, title):
        out = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\"><title>%s</title>" % html.escape(title),
               "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
               "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
               "td,th{border:1px solid #bbb;padding:2px 8px;text-align:right}th{background:#eee}"
               "img{max-width:100%}figcaption{font-style:italic;color:#444}"
               "pre{background:#f6f6f6;padding:1em;overflow-x:auto}</style></head><body>"]
        for b in self.blocks:
            kind = b[0]
            if kind == "h":
                out.append("<h%d>%s</h%d>" % (b[1], _inline(b[2]), b[1]))
            elif kind == "p":
                out.append("<p>%s</p>" % _inline(b[1]))
            elif kind == "pre":
                out.append("<pre>%s</pre>" % html.escape(b[1]))
            elif kind == "img":
                with open(os.path.join(self.outdir, b[1]), "rb") as f:
                    data = base64.b64encode(f.read()).decode("ascii")
                out.append("<figure><img alt=\"%s\" src=\"data:image/png;base64,%s\"><figcaption>%s"
                           "</figcaption></figure>" % (html.escape(b[1]), data, _inline(b[2])))
            elif kind == "table":
                _, key, headers, rows = b
                t = ["<table%s>" % (" data-key=\"%s\"" % html.escape(key) if key else "")]
                t.append("<tr>" + "".join("<th>%s</th>" % _inline(h) for h in headers) + "</tr>")
                for r in rows:
                    t.append("<tr>" + "".join("<td>%s</td>" % _inline(c) for c in r) + "</tr>")
                t.append("</table>")
                out.append("\n".join(t))
        out.append("</body></html>")
        return "\n".join(out)


def _cell(s):
    return str(s).replace("|", "\\|").replace("\n", " ")


def _inline(s):
    """The little Markdown the report uses: `code`, **bold**, *italic*."""
    s = html.escape(str(s))
    s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
    s = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", s)
    s = re.sub(r"\*([^*]+)\*", r"<i>\1</i>", s)
    return s


def parse_tables(markdown):
    """{key: (headers, rows)} of the keyed tables of a Markdown report."""
    out = {}
    lines = markdown.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"<!-- table:(.+) -->$", line.strip())
        if not m:
            continue
        rows = []
        for row in lines[i + 1:]:
            if not row.startswith("|"):
                break
            cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]
            rows.append(cells)
        if len(rows) >= 2:
            out[m.group(1)] = (rows[0], rows[2:])
    return out

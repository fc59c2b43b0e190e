//! Line charts as inline SVG, drawn on the server: no scripts, no styles
//! from elsewhere, so they render under a strict Content-Security-Policy
//! and in any browser.

use std::fmt::Write as _;

/// One line of a chart: its label, colour and values (a `None` is a gap).
pub struct Series {
    pub label: String,
    pub color: &'static str,
    pub values: Vec<Option<f64>>,
}

/// Colours for series in turn.
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

const W: f64 = 560.0;
const H: f64 = 120.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 18.0;

/// A `<figure id="{id}">` with the title, an SVG of `series` over `span`
/// (the x axis: `span` ago on the left, now on the right; point `i` at
/// `xs[i]`, a fraction of that width) with the largest value on the y axis
/// in `unit`, and a legend of each series' total (or last value, for
/// `gauge`). A point without neighbours is a dot.
pub fn line_chart(
    id: &str,
    title: &str,
    unit: &str,
    span: &str,
    gauge: bool,
    xs: &[f64],
    series: &[Series],
) -> String {
    let max = series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |a, &b| a.max(b));
    let top = if max > 0.0 { nice(max) } else { 1.0 };
    let x = |i: usize| LEFT + (W - LEFT - 4.0) * xs.get(i).copied().unwrap_or(1.0).clamp(0.0, 1.0);
    let y = |v: f64| 4.0 + (H - BOTTOM - 4.0) * (1.0 - v / top);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="{t}">"##,
        t = esc(title)
    );
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{b}" x2="{r}" y2="{b}" stroke="#999"/><line x1="{LEFT}" y1="4" x2="{LEFT}" y2="{b}" stroke="#999"/>"##,
        b = H - BOTTOM,
        r = W - 4.0
    );
    let _ = write!(
        svg,
        r##"<text x="{lx}" y="12" font-size="10" text-anchor="end">{top}</text><text x="{lx}" y="{b}" font-size="10" text-anchor="end">0</text>"##,
        lx = LEFT - 4.0,
        top = esc(&format!("{} {unit}", short(top))),
        b = H - BOTTOM
    );
    let _ = write!(
        svg,
        r##"<text x="{LEFT}" y="{ty}" font-size="10">{span} ago</text><text x="{r}" y="{ty}" font-size="10" text-anchor="end">now</text>"##,
        ty = H - 4.0,
        r = W - 4.0,
        span = esc(span)
    );
    for s in series {
        // Runs of points without gaps, each a polyline.
        let mut run: Vec<String> = vec![];
        let flush = |run: &mut Vec<String>, svg: &mut String| {
            if let [only] = &run[..] {
                let (cx, cy) = only.split_once(',').unwrap_or(("0", "0"));
                let _ = write!(
                    svg,
                    r##"<circle class="series" data-label="{l}" cx="{cx}" cy="{cy}" r="2.5" fill="{c}"/>"##,
                    l = esc(&s.label),
                    c = s.color
                );
                run.clear();
            } else if !run.is_empty() {
                let _ = write!(
                    svg,
                    r##"<polyline class="series" data-label="{l}" fill="none" stroke="{c}" stroke-width="1.5" points="{p}"/>"##,
                    l = esc(&s.label),
                    c = s.color,
                    p = run.join(" ")
                );
                run.clear();
            }
        };
        for (i, v) in s.values.iter().enumerate() {
            match v {
                Some(v) => run.push(format!("{:.1},{:.1}", x(i), y(*v))),
                None => flush(&mut run, &mut svg),
            }
        }
        flush(&mut run, &mut svg);
    }
    svg.push_str("</svg>");
    let mut legend = String::new();
    for s in series {
        let vals: Vec<f64> = s.values.iter().flatten().copied().collect();
        let figure = if gauge {
            vals.last().copied().unwrap_or(0.0)
        } else {
            vals.iter().sum()
        };
        let _ = write!(
            legend,
            r##"<li><span style="color:{c}">&#9632;</span> {l}: {v}</li>"##,
            c = s.color,
            l = esc(&s.label),
            v = esc(&short(figure))
        );
    }
    if series.is_empty() {
        legend.push_str("<li>none</li>");
    }
    format!(
        r##"<figure class="chart" id="{id}"><figcaption>{t}</figcaption>{svg}<ul class="legend">{legend}</ul></figure>"##,
        t = esc(title)
    )
}

/// The smallest of 1, 2, 5 × 10ⁿ at least `v`.
fn nice(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * p >= v {
            return m * p;
        }
    }
    10.0 * p
}

/// `v` with at most three significant digits and k/M/G suffixes.
pub fn short(v: f64) -> String {
    let (v, s) = if v >= 1e9 {
        (v / 1e9, "G")
    } else if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    if v == v.trunc() || v >= 100.0 {
        format!("{v:.0}{s}")
    } else if v >= 10.0 {
        format!("{v:.1}{s}")
    } else {
        format!("{v:.2}{s}")
    }
}

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_draws_each_series_and_escapes_labels() {
        let c = line_chart(
            "x",
            "Failures <by kind>",
            "/min",
            "1 h",
            false,
            &[0.0, 0.25, 0.5, 0.75, 1.0],
            &[Series {
                label: "truncated from http://a?b&c".into(),
                color: PALETTE[0],
                values: vec![Some(0.0), Some(3.0), None, Some(1.0), Some(2.0)],
            }],
        );
        assert!(c.starts_with(r#"<figure class="chart" id="x">"#));
        assert_eq!(
            c.matches("<polyline").count(),
            2,
            "a gap splits the line: {c}"
        );
        assert!(c.contains(r#"points="56.0,"#), "x from xs: {c}");
        let dot = line_chart(
            "y",
            "t",
            "",
            "1 h",
            true,
            &[1.0],
            &[Series {
                label: "one".into(),
                color: PALETTE[1],
                values: vec![Some(2.0)],
            }],
        );
        assert!(
            dot.contains("<circle") && !dot.contains("<polyline"),
            "{dot}"
        );
        assert!(c.contains("Failures &lt;by kind&gt;"));
        assert!(c.contains("truncated from http://a?b&amp;c: 6"), "{c}");
        assert!(c.contains(">5 /min<"), "the y axis tops at a round 5: {c}");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(short(0.0), "0");
        assert_eq!(short(1234.0), "1.23k");
        assert_eq!(short(2_500_000.0), "2.50M");
        assert_eq!(short(12.5), "12.5");
        assert_eq!(nice(3.2), 5.0);
        assert_eq!(nice(120.0), 200.0);
    }
}

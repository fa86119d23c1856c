//! The rankings of results::paired as tables: a Markdown section of
//! comparison.md and comparison.tex (booktabs; best in bold, the interval in
//! parentheses, a star where it excludes 0).
use std::fmt::Write as _;

use super::paired::{Delta, Ranking};

/// How a reader should take the "Δ vs …" column; `against` is `best` or
/// `baseline`.
pub fn explanation(against: &str) -> String {
    format!(
        "Δ vs {against} is ΔNLL(ordering − the model's {against} ordering) in nats/image, paired image \
         by image on the same test set, with its 95% confidence interval: over test images (paired t) \
         for one seed, over seeds (t on the per-seed Δ, which includes seed-to-seed variance) for \
         several. * marks an interval that excludes 0: the difference is established at the 95% level."
    )
}

/// `best` when every baseline is its model's best ordering, else `baseline`.
pub fn against(rankings: &[Ranking]) -> &'static str {
    let best = rankings
        .iter()
        .all(|r| r.rows.first().is_some_and(|f| f.delta.is_none()));
    if best {
        "best"
    } else {
        "baseline"
    }
}

fn swept_label(r: &Ranking) -> String {
    r.swept
        .iter()
        .map(|w| format!(" · {}={}", w.label, w.value))
        .collect()
}

/// `+0.28 (+0.20, +0.36) *`.
pub fn delta_cell(d: &Delta) -> String {
    let i = d.interval;
    let star = if i.excludes_zero() { " *" } else { "" };
    format!("{:+.2} ({:+.2}, {:+.2}){star}", i.mean, i.lo, i.hi)
}

/// The "Orderings ranked" section of comparison.md.
pub fn markdown(rankings: &[Ranking], left_out: &[String]) -> String {
    let mut md = String::new();
    let vs = against(rankings);
    let _ = writeln!(md, "\n## Orderings ranked\n\n{}\n", explanation(vs));
    let _ = writeln!(
        md,
        "| model | rank | ordering | seeds | test NLL (nats) | Δ vs {vs} (95% CI) | CI over |"
    );
    let _ = writeln!(md, "|---|---:|---|---:|---:|---|---|");
    for r in rankings {
        let model = format!("{}{}", r.model, swept_label(r));
        for (i, row) in r.rows.iter().enumerate() {
            let (delta, over) = match &row.delta {
                None => (format!("— ({vs})"), String::new()),
                Some(d) => (delta_cell(d), d.over_cell()),
            };
            let _ = writeln!(
                md,
                "| {model} | {} | {} | {} | {:.2} | {delta} | {over} |",
                i + 1,
                row.ordering,
                row.seeds,
                row.nll
            );
        }
    }
    if !left_out.is_empty() {
        let _ = writeln!(
            md,
            "\nLeft out of the ranking (no per-image test results): {}.",
            left_out.join(", ")
        );
    }
    md
}

/// One row of `arlab compare`'s CSV (docs/comparisons.md).
#[derive(Debug, serde::Serialize)]
pub struct CsvRow {
    pub model: String,
    /// `label=value` of each swept path, `;`-separated.
    pub swept: String,
    pub rank: usize,
    /// The ordering, or the run when comparing runs.
    pub ordering: String,
    pub seeds: usize,
    pub test_nll: f64,
    pub test_nll_ci_low: Option<f64>,
    pub test_nll_ci_high: Option<f64>,
    /// The ordering (or run) the Δ is against.
    pub baseline: String,
    /// ΔNLL(this − baseline), nats/image; empty for the baseline.
    pub delta: Option<f64>,
    pub delta_ci_low: Option<f64>,
    pub delta_ci_high: Option<f64>,
    /// `test images` or `seeds`.
    pub ci_over: String,
    /// Whether the Δ interval excludes 0.
    pub established: bool,
}

/// The CSV rows of `rankings`.
pub fn csv_rows(rankings: &[Ranking]) -> Vec<CsvRow> {
    let mut out = Vec::new();
    for r in rankings {
        let swept: Vec<String> = r
            .swept
            .iter()
            .map(|w| format!("{}={}", w.label, w.value))
            .collect();
        for (i, row) in r.rows.iter().enumerate() {
            let d = row.delta.as_ref();
            out.push(CsvRow {
                model: r.model.clone(),
                swept: swept.join(";"),
                rank: i + 1,
                ordering: row.ordering.clone(),
                seeds: row.seeds,
                test_nll: row.nll,
                test_nll_ci_low: row.nll_interval.map(|i| i.lo),
                test_nll_ci_high: row.nll_interval.map(|i| i.hi),
                baseline: r.baseline.clone(),
                delta: d.map(|d| d.interval.mean),
                delta_ci_low: d.map(|d| d.interval.lo),
                delta_ci_high: d.map(|d| d.interval.hi),
                ci_over: d.map_or(String::new(), |d| d.over.name().into()),
                established: d.is_some_and(|d| d.interval.excludes_zero()),
            });
        }
    }
    out
}

/// Escapes the characters LaTeX treats specially.
pub fn tex_escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            '·' => out.push_str("$\\cdot$"),
            '×' => out.push_str("$\\times$"),
            '−' => out.push('-'),
            _ => out.push(c),
        }
    }
    out
}

/// comparison.tex: one booktabs table, models separated by rules, each
/// model's best ordering in bold.
pub fn latex(name: &str, rankings: &[Ranking]) -> String {
    let vs = against(rankings);
    let mut t = String::new();
    let _ = writeln!(t, "% Written by arlab. Needs \\usepackage{{booktabs}}.");
    let _ = writeln!(t, "\\begin{{table}}[t]\n\\centering");
    let _ = writeln!(
        t,
        "\\caption{{{}: test NLL (nats/image) per ordering. $\\Delta$ vs {vs}: NLL of the ordering minus \
         that of the model's {vs} ordering, paired over the same test images, with its 95\\% confidence \
         interval (over test images for one seed, over seeds for several); $^*$: the interval excludes 0. \
         Best in bold.}}",
        tex_escape(name)
    );
    let _ = writeln!(t, "\\begin{{tabular}}{{llrrl}}\n\\toprule");
    let _ = writeln!(
        t,
        "Model & Ordering & Seeds & NLL & $\\Delta$ vs {vs} (95\\% CI) \\\\"
    );
    for r in rankings {
        let _ = writeln!(t, "\\midrule");
        let model = tex_escape(&format!("{}{}", r.model, swept_label(r)));
        for (i, row) in r.rows.iter().enumerate() {
            let first = if i == 0 { model.as_str() } else { "" };
            let bold = |x: String| {
                if i == 0 {
                    format!("\\textbf{{{x}}}")
                } else {
                    x
                }
            };
            let delta = match &row.delta {
                None => "---".to_string(),
                Some(d) => {
                    let i = d.interval;
                    let star = if i.excludes_zero() { "$^*$" } else { "" };
                    format!("${:+.2}$ (${:+.2}$, ${:+.2}$){star}", i.mean, i.lo, i.hi)
                }
            };
            let _ = writeln!(
                t,
                "{first} & {} & {} & {} & {delta} \\\\",
                bold(tex_escape(&row.ordering)),
                row.seeds,
                bold(format!("{:.2}", row.nll))
            );
        }
    }
    let _ = writeln!(t, "\\bottomrule\n\\end{{tabular}}\n\\end{{table}}");
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::paired::{Over, Ranked};
    use crate::stats::Interval;

    fn ranking() -> Ranking {
        let delta = |mean: f64, lo: f64, hi: f64| Delta {
            interval: Interval {
                mean,
                lo,
                hi,
                n: 50,
            },
            over: Over::Images,
            pairs: 1,
        };
        Ranking {
            model: "nade_h8".into(),
            swept: Vec::new(),
            baseline: "raster".into(),
            rows: vec![
                Ranked {
                    ordering: "raster".into(),
                    seeds: 1,
                    nll: 88.123,
                    nll_interval: None,
                    delta: None,
                },
                Ranked {
                    ordering: "snake".into(),
                    seeds: 1,
                    nll: 88.4,
                    nll_interval: None,
                    delta: Some(delta(0.277, 0.2, 0.36)),
                },
                Ranked {
                    ordering: "random:1".into(),
                    seeds: 1,
                    nll: 88.2,
                    nll_interval: None,
                    delta: Some(delta(0.08, -0.1, 0.26)),
                },
            ],
        }
    }

    #[test]
    fn the_marker_is_where_the_interval_excludes_zero() {
        let md = markdown(&[ranking()], &[]);
        assert!(
            md.contains(
                "| nade_h8 | 2 | snake | 1 | 88.40 | +0.28 (+0.20, +0.36) * | test images |"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| nade_h8 | 3 | random:1 | 1 | 88.20 | +0.08 (-0.10, +0.26) | test images |"
            ),
            "{md}"
        );
        assert!(
            md.contains("| nade_h8 | 1 | raster | 1 | 88.12 | — (best) |  |"),
            "{md}"
        );
    }

    #[test]
    fn the_latex_table_is_booktabs_with_the_best_in_bold() {
        let tex = latex("exp_1", &[ranking(), ranking()]);
        let count = |s: &str| tex.matches(s).count();
        assert_eq!(
            (
                count("\\toprule"),
                count("\\midrule"),
                count("\\bottomrule")
            ),
            (1, 2, 1)
        );
        assert_eq!(count("\\begin{tabular}{llrrl}"), 1);
        assert!(
            tex.contains("nade\\_h8 & \\textbf{raster} & 1 & \\textbf{88.12} & --- \\\\"),
            "{tex}"
        );
        assert!(
            tex.contains(" & snake & 1 & 88.40 & $+0.28$ ($+0.20$, $+0.36$)$^*$ \\\\"),
            "{tex}"
        );
        assert!(
            tex.contains(" & random:1 & 1 & 88.20 & $+0.08$ ($-0.10$, $+0.26$) \\\\"),
            "{tex}"
        );
        assert!(tex.contains("\\caption{exp\\_1:"));
        // Every row has five cells.
        for line in tex.lines().filter(|l| l.ends_with("\\\\")) {
            assert_eq!(line.matches(" & ").count(), 4, "{line}");
        }
    }

    #[test]
    fn latex_specials_are_escaped() {
        assert_eq!(
            tex_escape("a_b & 50% #1 {x} ~^\\"),
            "a\\_b \\& 50\\% \\#1 \\{x\\} \\textasciitilde{}\\textasciicircum{}\\textbackslash{}"
        );
    }
}

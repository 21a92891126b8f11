//! The demo's report: its sections, `report.json`, `report.md` and `index.html` (rendered by
//! pulldown-cmark).

use super::*;

/// Step 1 in the report.
#[derive(Debug, Clone, Serialize)]
pub struct SindySection {
    /// The identified equations, as a person writes them.
    pub equations: Vec<String>,
    /// R² per state variable.
    pub r2: Vec<(String, f64)>,
    /// Comparison with the true Lorenz system.
    pub accuracy: Option<Accuracy>,
    /// The identified model simulated against the truth.
    pub simulation: SimulationSummary,
    /// Samples fitted.
    pub samples: usize,
    /// What `cellsindy sindy` prints.
    pub summary: String,
}

/// A rules route in the report.
#[derive(Debug, Clone, Serialize)]
pub struct RulesSection {
    /// Route name.
    pub route: String,
    /// The rules, as text.
    pub rules: String,
    /// Evaluations against the truth (the route and its baselines).
    pub evaluations: Vec<Evaluation>,
    /// Seconds of the fit.
    pub fit_seconds: f64,
}

impl RulesSection {
    pub(super) fn of(r: &RulesReport) -> Self {
        Self {
            route: r.route.clone(),
            rules: r.rules.text(4),
            evaluations: r.evaluations.clone(),
            fit_seconds: r.fit_seconds,
        }
    }
}

/// Route 2 in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ActivationsSection {
    /// Target gene.
    pub target: String,
    /// Cells used.
    pub n_cells: usize,
    /// Units and dictionary features whose best rule is an XOR of two genes.
    pub n_xor_rules: usize,
    /// What `cellsindy rules activations` prints (Markdown).
    pub markdown: String,
}

/// Step 7 in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ScalingSection {
    /// The law used (`alpha` 0.38, `beta` 1).
    pub law: TransferLaw,
    /// The data factor asked about.
    pub data_c: f64,
    /// The model factor worth the same.
    pub model_c: f64,
    /// The archive projection: (growth a year, year 330 million cells pass one billion).
    pub archive: Vec<(f64, f64)>,
}

/// Wall time of one stage.
#[derive(Debug, Clone, Serialize)]
pub struct StageTime {
    /// The stage.
    pub stage: DemoStage,
    /// Seconds.
    pub seconds: f64,
}

/// Everything the demo measured.
#[derive(Debug, Clone, Serialize)]
pub struct DemoReport {
    /// The settings.
    pub config: DemoConfig,
    /// Step 1.
    pub sindy: SindySection,
    /// Step 2.
    pub data: SynthReport,
    /// Step 3.
    pub train: TrainSummary,
    /// Step 4.
    pub evaluation: EvalReport,
    /// Step 5.
    pub probe: ProbeReport,
    /// Step 6, route 1.
    pub rules_distill: RulesSection,
    /// Step 6, route 3.
    pub rules_dynamics: RulesSection,
    /// Step 6, route 2 (`None` when not run).
    pub rules_activations: Option<ActivationsSection>,
    /// Step 7.
    pub scaling: ScalingSection,
    /// Figures, relative to the report directory.
    pub figures: Vec<String>,
    /// The equivalent command lines, one per step, relative to the report directory.
    pub commands: Vec<String>,
    /// Stage wall times.
    pub timings: Vec<StageTime>,
    /// Total wall time (seconds).
    pub seconds: f64,
    /// Remarks (e.g. that a quick run's model is undertrained).
    pub notes: Vec<String>,
}
/// Writes `report.json`, `report.md` and `index.html` into `dir`, each atomically. Returns
/// the paths written.
///
/// # Errors
/// [`Error::Io`] naming the path; [`Error::Json`].
pub fn write_demo_report(report: &DemoReport, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let md = report.markdown();
    let files = [
        (
            dir.join("report.json"),
            serde_json::to_string_pretty(report)?,
        ),
        (dir.join("index.html"), html_page("cellsindy demo", &md)),
        (dir.join("report.md"), md),
    ];
    let mut written = Vec::new();
    for (p, text) in files {
        write_atomic(&p, text.as_bytes())?;
        written.push(p);
    }
    Ok(written)
}

/// Headings of embedded Markdown moved `by` levels down, so a step's own report nests under
/// the demo's section.
pub(super) fn demote(md: &str, by: usize) -> String {
    let mut s = String::new();
    for line in md.lines() {
        if line.starts_with('#') {
            s.push_str(&"#".repeat(by));
        }
        s.push_str(line);
        s.push('\n');
    }
    s
}

pub(super) fn figure_lines(s: &mut String, figures: &[String], under: &str) {
    for f in figures.iter().filter(|f| f.starts_with(under)) {
        let _ = writeln!(s, "\n![{f}]({f})");
    }
}

impl DemoReport {
    /// The report as Markdown (what `report.md` holds and `index.html` renders).
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let c = &self.config;
        let _ = writeln!(s, "# cellsindy demo\n");
        let _ = writeln!(
            s,
            "Every step below is one `cellsindy` command run with the same settings and seed {} (the command lines are under *Reproduce*); each step's own files are in its subdirectory. Total {:.0} s.",
            c.seed, self.seconds
        );
        for n in &self.notes {
            let _ = writeln!(s, "\n**Note.** {n}");
        }

        let _ = writeln!(s, "\n## 1. SINDy on the Lorenz system\n");
        let _ = writeln!(
            s,
            "{} simulated samples; polynomial library, STLSQ. Identified equations:\n",
            self.sindy.samples
        );
        let _ = writeln!(s, "```");
        for e in &self.sindy.equations {
            let _ = writeln!(s, "{e}");
        }
        let _ = writeln!(s, "```\n");
        let r2: Vec<String> = self
            .sindy
            .r2
            .iter()
            .map(|(n, r)| format!("{n} {r:.6}"))
            .collect();
        let _ = writeln!(s, "- R²: {}", r2.join(", "));
        if let Some(a) = &self.sindy.accuracy {
            let _ = writeln!(
                s,
                "- support: {} ({} terms), max relative coefficient error {:.3e}",
                if a.exact_support { "exact" } else { "differs" },
                a.terms.len(),
                a.max_rel_err
            );
        }
        if let Some(t) = self.sindy.simulation.agreement_until {
            let _ = writeln!(
                s,
                "- the identified model follows the true trajectory until t = {t:.3} (chaos then separates them)"
            );
        }
        figure_lines(&mut s, &self.figures, "sindy/");

        let d = &self.data;
        let _ = writeln!(s, "\n## 2. The synthetic brain\n");
        let _ = writeln!(
            s,
            "{} cells × {} genes ({} non-zero counts) with a known regulatory network (`data/brain.truth.json`).\n",
            d.n_cells, d.n_genes, d.nnz
        );
        let _ = writeln!(s, "| cell type | cells |\n|---|---|");
        for (t, n) in &d.cell_types {
            let _ = writeln!(s, "| {t} | {n} |");
        }
        let m = &d.module_spearman;
        let _ = writeln!(
            s,
            "\nMean pairwise Spearman: synaptic {:+.3}, mitochondrial {:+.3}, between {:+.3}.",
            m.within_a, m.within_b, m.between
        );

        let t = &self.train;
        let _ = writeln!(s, "\n## 3. The gene transformer\n");
        let _ = writeln!(s, "| quantity | value |\n|---|---|");
        let _ = writeln!(
            s,
            "| vocabulary genes | {} (the probe genes included) |",
            t.n_genes
        );
        let _ = writeln!(s, "| parameters | {} |", t.n_parameters);
        let _ = writeln!(
            s,
            "| steps | {} on {} of {} cells |",
            t.steps, t.n_train, t.n_cells
        );
        let _ = writeln!(
            s,
            "| train loss (last 50 steps) | {:.4} |",
            t.final_train_loss
        );
        if let Some(v) = &t.validation {
            let _ = writeln!(s, "| validation loss | {:.4} |", v.loss);
            let _ = writeln!(s, "| validation masked-gene accuracy | {:.3} |", v.accuracy);
        }
        let _ = writeln!(
            s,
            "| wall time | {:.1} s ({:.0} gene tokens/s) |",
            t.seconds, t.tokens_per_sec
        );

        let e = &self.evaluation;
        let _ = writeln!(s, "\n## 4. Evaluation on the held-out cells\n");
        let _ = writeln!(s, "| test | model | baseline |\n|---|---|---|");
        let _ = writeln!(
            s,
            "| masked-gene accuracy ({} cells, {} masked genes) | {:.3} | {:.3} (per-gene marginal) |",
            e.masked.n_cells, e.masked.n_masked, e.masked.model, e.masked.marginal
        );
        let _ = writeln!(
            s,
            "| masked-gene mean absolute bin error | {:.3} | {:.3} (per-gene marginal) |",
            e.masked.model_mae, e.masked.marginal_mae
        );
        if let Some(x) = &e.xor {
            let _ = writeln!(
                s,
                "| XOR gate TGXOR from TFA, TFB (balanced accuracy) | {:.3} | {:.3} (regulators only, no context) |",
                x.balanced_accuracy, x.balanced_accuracy_regulators_only
            );
        }
        if let Some(g) = &e.generation {
            let _ = writeln!(
                s,
                "| generated cells with both markers high ({} generated) | {:.3} | {:.3} (data), {:.3} (independent) |",
                g.n_generated, g.generated_both_high, g.data_both_high, g.independent_both_high
            );
        }

        let p = &self.probe;
        let _ = writeln!(s, "\n## 5. Probes: the model vs the baselines\n");
        let _ = writeln!(
            s,
            "{} held-out cells scored; the baselines (PCA with {} components, {:.1} % of the variance, linear regression, and the non-linear ones in each table) fitted on the {} training cells. Full report: `probe/report.md`.\n",
            p.n_scored,
            p.config.n_components,
            100.0 * p.pca_explained_variance,
            p.n_train
        );
        let _ = writeln!(s, "### Covariance probe\n");
        s.push_str(
            &p.covariance
                .markdown(&p.config.group_a_name, &p.config.group_b_name),
        );
        for x in [&p.xor_markers, &p.xor_gate] {
            let _ = writeln!(s, "\n### XOR probe: {}\n", x.target);
            let _ = writeln!(s, "Truth: {}.\n", x.truth_rule);
            s.push_str(&x.markdown());
        }
        figure_lines(&mut s, &self.figures, "probe/");

        let _ = writeln!(s, "\n## 6. Rules read out of the model\n");
        let _ = writeln!(
            s,
            "### Route 1: distillation of the model's predictions (against the synthetic truth)\n"
        );
        s.push_str(&demote(
            &Evaluation::markdown(&self.rules_distill.evaluations),
            2,
        ));
        let _ = writeln!(s, "\n```\n{}```", self.rules_distill.rules);
        figure_lines(&mut s, &self.figures, "rules/distill/");
        let _ = writeln!(s, "\n### Route 3: SINDy on the network's dynamics\n");
        s.push_str(&demote(
            &Evaluation::markdown(&self.rules_dynamics.evaluations),
            2,
        ));
        let _ = writeln!(s, "\n```\n{}```", self.rules_dynamics.rules);
        figure_lines(&mut s, &self.figures, "rules/dynamics/");
        match &self.rules_activations {
            Some(a) => {
                let _ = writeln!(
                    s,
                    "\n### Route 2: activations and a sparse autoencoder at {}\n",
                    a.target
                );
                let _ = writeln!(
                    s,
                    "{} cells; {} units or features explained by an XOR of two genes.\n",
                    a.n_cells, a.n_xor_rules
                );
                s.push_str(&demote(&a.markdown, 3));
            }
            None => {
                let _ = writeln!(s, "\n### Route 2: activations\n\nNot run.");
            }
        }

        let sc = &self.scaling;
        let _ = writeln!(s, "\n## 7. Transfer scaling\n");
        let _ = writeln!(
            s,
            "`D_t = k · D_f^α · N^β` with α = {}, β = {}: a data factor of {:e} is worth a model factor of {:.1} (10^{:.2}).\n",
            sc.law.alpha,
            sc.law.beta,
            sc.data_c,
            sc.model_c,
            sc.model_c.log10()
        );
        for (g, y) in &sc.archive {
            let _ = writeln!(
                s,
                "- 330 million 10x cells in early 2025 growing {:.0} % a year pass one billion in {y:.1}",
                100.0 * g
            );
        }

        let _ = writeln!(s, "\n## Timings\n");
        let _ = writeln!(s, "| step | seconds |\n|---|---|");
        for t in &self.timings {
            let _ = writeln!(s, "| {} | {:.1} |", t.stage.describe(), t.seconds);
        }
        let _ = writeln!(s, "| **total** | **{:.1}** |", self.seconds);

        let _ = writeln!(s, "\n## Reproduce\n");
        let _ = writeln!(
            s,
            "Each step is this command, run in the report directory:\n\n```"
        );
        for cmd in &self.commands {
            let _ = writeln!(s, "{cmd}");
        }
        let _ = writeln!(s, "```");
        s
    }
}

/// A self-contained page from the report's Markdown, rendered by pulldown-cmark (CommonMark
/// with GFM tables). Raw HTML in the Markdown is shown as text, never passed through: the
/// report quotes names from users' files.
pub(super) fn html_page(title: &str, md: &str) -> String {
    use pulldown_cmark::{html, Event, Options, Parser};
    let events = Parser::new_ext(md, Options::ENABLE_TABLES).map(|e| match e {
        Event::Html(t) | Event::InlineHtml(t) => Event::Text(t),
        e => e,
    });
    let mut body = String::new();
    html::push_html(&mut body, events);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\nbody {{ font-family: sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em; line-height: 1.4; }}\ntable {{ border-collapse: collapse; margin: 1em 0; }}\nth, td {{ border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; }}\nth {{ background: #f0f0f0; }}\npre {{ background: #f6f6f6; padding: 0.6em; overflow-x: auto; }}\nimg {{ max-width: 100%; border: 1px solid #ddd; margin: 0.5em; }}\n</style>\n</head>\n<body>\n{}</body>\n</html>\n",
        cellsindy::escape::html(title),
        body
    )
}

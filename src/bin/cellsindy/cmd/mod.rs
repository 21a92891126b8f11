//! One module per subcommand: parse → config → `cellsindy::pipeline` → print / write.

pub mod data;
pub mod demo;
pub mod probe;
pub mod rules;
pub mod rules_activations;
pub mod scaling;
pub mod sindy;
pub mod transformer;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

/// A bar counting `unit`s done, with rate (millions per second) and time left. It draws on
/// stderr and stays hidden when stderr is not a terminal.
pub fn progress_bar(unit: &str) -> anyhow::Result<ProgressBar> {
    let template =
        format!("{{elapsed_precise}} {{wide_bar}} {{human_pos}}/{{human_len}} {unit}, {{rate}}, eta {{eta}}");
    let style = ProgressStyle::with_template(&template)?.with_key(
        "rate",
        |s: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{:.2} M/s", s.per_sec() / 1e6);
        },
    );
    Ok(ProgressBar::new(0).with_style(style))
}

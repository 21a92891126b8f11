//! One module per subcommand: parse → config → `cellsindy_cli::pipeline` → print / write.

pub mod data;
pub mod demo;
pub mod probe;
pub mod rules;
pub mod rules_activations;
pub mod scaling;
pub mod sindy;
pub mod transformer;

use std::io::Write;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

use cellsindy::io::output::Output;

/// Text for the terminal: names from users' files may hold control characters (an ANSI
/// escape rewrites the terminal), shown as escapes instead.
pub fn safe(text: &str) -> std::borrow::Cow<'_, str> {
    cellsindy::escape::terminal_text(text)
}

/// Moves a staged output into place and prints `wrote PATH` for each of its `files` (paths
/// under the staging directory) at its final place.
pub fn commit_and_list(
    staged: Output,
    files: &[PathBuf],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let finals: Vec<PathBuf> = files.iter().map(|f| staged.final_path(f)).collect();
    staged.commit()?;
    for f in finals {
        writeln!(out, "wrote {}", safe(&f.display().to_string()))?;
    }
    Ok(())
}

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

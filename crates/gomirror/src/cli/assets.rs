//! `gomirror generate-assets DIR` (hidden): the files a package installs
//! beside the binary, made from the command line's own definition so they
//! never drift from it — man pages (one per command), shell completions
//! (bash, zsh, fish) and the configuration file with every setting
//! commented at its default.

use anyhow::{Context, Result};
use clap::CommandFactory;
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// Writes `man/*.1`, `completions/{gomirror.bash,_gomirror,gomirror.fish}`
/// and `gomirror.toml` under `out`.
pub fn run(out: &Path, data_dir: Option<&str>) -> ExitCode {
    match generate(out, data_dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gomirror: generating assets: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn generate(out: &Path, data_dir: Option<&str>) -> Result<()> {
    let cmd = super::Cli::command();
    let man = out.join("man");
    std::fs::create_dir_all(&man).with_context(|| man.display().to_string())?;
    clap_mangen::generate_to(cmd.clone(), &man).context("man pages")?;
    let comp = out.join("completions");
    std::fs::create_dir_all(&comp).with_context(|| comp.display().to_string())?;
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "gomirror", &comp)
            .with_context(|| format!("{shell} completions"))?;
    }
    let toml = out.join("gomirror.toml");
    std::fs::write(&toml, config_file(data_dir)).with_context(|| toml.display().to_string())?;
    Ok(())
}

/// Value names of settings whose TOML value is a number.
const NUMERIC: [&str; 3] = ["N", "BYTES", "BYTES_PER_SEC"];

/// The configuration file: each setting of `gomirror serve` with its help,
/// its environment variable and flag, and a commented assignment of its
/// default (`#key = value`; a setting without a literal default has a
/// commented key alone). With `data_dir`, that one setting is set.
pub(crate) fn config_file(data_dir: Option<&str>) -> String {
    let cmd = super::Cli::command();
    let serve = cmd.find_subcommand("serve").expect("serve is a subcommand");
    let mut out = String::from(
        "# gomirror configuration (TOML). Every setting is shown commented at its\n\
         # default: remove the `#` before a key to set it. The environment (the\n\
         # variable named with each setting) overrides this file, and\n\
         # command-line flags override both. `gomirror check-config --config\n\
         # FILE` checks a file; `gomirror serve --print-config` shows the result.\n",
    );
    for arg in serve.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "config" | "print-config" | "help") {
            continue;
        }
        let key = long.replace('-', "_");
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let (text, env, default) = split_help(&help);
        out.push('\n');
        for line in wrap(&text, 74) {
            let _ = writeln!(out, "# {line}");
        }
        let _ = writeln!(
            out,
            "# Environment: {}; flag: --{long}.",
            env.unwrap_or_else(|| format!("GOMIRROR_{}", key.to_uppercase()))
        );
        let numeric = arg
            .get_value_names()
            .and_then(|v| v.first())
            .is_some_and(|v| NUMERIC.contains(&v.as_str()));
        if key == "data_dir" {
            if let Some(d) = data_dir {
                let _ = writeln!(out, "data_dir = {}", toml_string(d));
                continue;
            }
        }
        match default.clone().filter(|d| is_literal(d)) {
            Some(d) if numeric => {
                let _ = writeln!(out, "#{key} = {d}");
            }
            Some(d) => {
                let _ = writeln!(out, "#{key} = {}", toml_string(&d));
            }
            None => {
                if let Some(d) = default {
                    let _ = writeln!(out, "# (default: {d})");
                }
                let _ = writeln!(out, "#{key} =");
            }
        }
    }
    out
}

/// Splits clap help text into the prose, the `[env: X]` variable and the
/// `[default: Y]` value.
fn split_help(help: &str) -> (String, Option<String>, Option<String>) {
    let mut text = help.replace('\n', " ");
    let mut take = |tag: &str| -> Option<String> {
        let start = text.find(tag)?;
        let end = start + text[start..].find(']')?;
        let v = text[start + tag.len()..end].trim().to_owned();
        text.replace_range(start..=end, "");
        Some(v)
    };
    let env = take("[env: ");
    let default = take("[default: ");
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (text, env, default)
}

/// Whether a default is a value to write as it is (not a description of
/// one, like `GOPRIVATE` or `<hostname>:<listen port>`).
fn is_literal(d: &str) -> bool {
    !d.contains(['<', ' ']) && d != "GOPRIVATE"
}

fn toml_string(s: &str) -> String {
    format!("{:?}", s)
}

/// Words of `text` in lines of at most `width` characters.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![];
    let mut line = String::new();
    for w in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + w.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(w);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

//! `pycache completions SHELL` and `pycache man`: shell completions (clap_complete) and a man
//! page (clap_mangen), both generated from the same clap definitions the parser uses, so they
//! cannot fall out of date.

use super::Status;
use crate::cli::{Cli, CompletionsArgs};
use crate::printer::Printer;
use clap::CommandFactory;

/// Prints the completion script for one shell.
pub(crate) fn completions(args: &CompletionsArgs) -> anyhow::Result<Status> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "pycache", &mut script);
    Printer::new().raw(&script)?;
    Ok(Status::Success)
}

/// Prints the man page (roff): `pycache(1)`, with one section per subcommand.
pub(crate) fn man() -> anyhow::Result<Status> {
    let command = Cli::command();
    let mut page = Vec::new();
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    man.render_options_section(&mut page)?;
    render_subcommands(&command, &mut page)?;
    man.render_extra_section(&mut page)?;
    man.render_version_section(&mut page)?;
    man.render_authors_section(&mut page)?;
    Printer::new().raw(&page)?;
    Ok(Status::Success)
}

/// One `.SH` section per subcommand, with its synopsis, description and options: a reader of
/// `man pycache` sees every flag, not only the list of command names.
fn render_subcommands(command: &clap::Command, page: &mut Vec<u8>) -> std::io::Result<()> {
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("pycache {}", sub.get_name());
        let sub = sub.clone().bin_name(name.clone());
        let man = clap_mangen::Man::new(sub);
        let mut section = Vec::new();
        man.render_synopsis_section(&mut section)?;
        man.render_description_section(&mut section)?;
        man.render_options_section(&mut section)?;
        man.render_extra_section(&mut section)?;
        // Each sub-page's headers (SYNOPSIS, OPTIONS...) become sub-headers of its section.
        let text = String::from_utf8_lossy(&section).replace(".SH ", ".SS ");
        page.extend_from_slice(format!(".SH \"{}\"\n", name.to_uppercase()).as_bytes());
        page.extend_from_slice(text.as_bytes());
    }
    Ok(())
}

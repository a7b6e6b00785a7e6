//! One function per command: settings and arguments in, domain calls, the one terminal out,
//! an exit status back. Nothing here decides a verdict; nothing below here prints.

mod author;
pub mod doctor;
mod draft;
mod images;
mod learner;
mod pool;
mod run;
mod session;
mod test;
mod watch;

use crate::cli::{self, Command};
use crate::distro::Catalog;
use crate::printer::terminal::Terminal;
use crate::settings::Settings;
use crate::{Error, ExitStatus};

/// Runs `command` with the settings resolved once and the terminal built once.
pub(crate) async fn dispatch(command: Command, settings: &Settings, terminal: &Terminal) -> Result<ExitStatus, Error> {
    match command {
        Command::Run(args) => run::run(args, settings, terminal).await,
        Command::Test(args) => test::test(args, settings, terminal).await,
        Command::Lint(args) => author::lint(&args, settings, terminal),
        Command::New(args) => author::new(&args, settings, terminal),
        Command::Shell(args) => run::shell(args, settings, terminal).await,
        Command::DraftGoss(args) => draft::draft_goss(args, settings, terminal).await,
        Command::Watch(args) => watch::watch(args, settings, terminal).await,
        Command::Pool(command) => pool::pool(command, settings, terminal).await,
        Command::List(args) => learner::list(&args, settings, terminal).await,
        Command::Start(args) => learner::start(&args, settings, terminal),
        Command::Show(args) => learner::show(&args, settings, terminal),
        Command::Hint(args) => learner::hint(&args, settings, terminal),
        Command::Reset(args) => learner::reset(&args, settings, terminal),
        Command::Doctor(args) => doctor::doctor(&settings.runtime(args.runtime), settings, terminal).await,
        Command::Images(command) => images::images(command, settings, terminal).await,
        Command::Completions { shell } => {
            terminal.print(cli::completions(shell).trim_end());
            Ok(ExitStatus::Success)
        }
    }
}

fn unknown_distro(name: &str, catalog: &Catalog) -> Error {
    Error::Usage(format!("unknown distro `{name}`; supported: {}", catalog.names().join(", ")))
}

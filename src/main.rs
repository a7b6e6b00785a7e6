use clap::Parser;

fn main() {
    // Parse before building the runtime: `--help` and usage errors need no threads.
    let cli = sandbox::cli::Cli::parse();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("failed to start the tokio runtime");
    let status = match runtime.block_on(sandbox::run(cli)) {
        Ok(status) => status,
        Err(err) => {
            let status = err.exit_status();
            #[allow(clippy::print_stderr)]
            {
                eprintln!("{:?}", miette::Report::new(err));
            }
            status
        }
    };
    std::process::exit(status as i32);
}

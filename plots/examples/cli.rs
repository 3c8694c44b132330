//! The library's three entry points from a shell, until `kvlab plot|report|compare` wire them:
//!
//! ```sh
//! cargo run --release -p kvlab-plots --example cli -- plot DIR
//! cargo run --release -p kvlab-plots --example cli -- report DIR
//! cargo run --release -p kvlab-plots --example cli -- compare A B
//! ```

use std::path::Path;
use std::process::ExitCode;

fn run(args: &[String]) -> kvlab_plots::Result<()> {
    match args {
        [cmd, dir] if cmd == "plot" => {
            for f in kvlab_plots::plot(Path::new(dir))? {
                println!("{}", f.display());
            }
        }
        [cmd, dir] if cmd == "report" => {
            println!("{}", kvlab_plots::report(Path::new(dir))?.display())
        }
        [cmd, a, b] if cmd == "compare" => {
            let cmp = kvlab_plots::compare(Path::new(a), Path::new(b))?;
            println!("{cmp}");
            println!("written: {}", cmp.write_html(None)?.display());
        }
        _ => eprintln!("usage: cli plot DIR | report DIR | compare A B"),
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("dev-token") => gateway::dev_token::main(&args[1..]),
        None | Some("serve") => gateway::main(),
        Some(other) => {
            eprintln!(
                "gateway: unknown command {other:?}; use `serve` or `dev-token [--role R] [--sub UUID] [--org UUID]`"
            );
            ExitCode::from(2)
        }
    }
}

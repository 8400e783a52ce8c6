//! The command line of every service binary: `migrate`, `serve` (the default), the operator's
//! dead-letter tools `dlq list` and `dlq replay [--type <event type>] [--limit N]`, and
//! `audit verify` (walk the audit log's hash chain, report the first broken link), and
//! `outbox replay --to <service> --since <time>` (publish this service's past events again to one
//! consumer's queue, after that consumer was restored from a backup: events::replay).

use events::dlq::ReplayFilter;
use platform::config::ServiceConfig;

pub const USAGE: &str =
    "usage: <service> [serve | migrate | dlq list | dlq replay [--type <event type>] [--limit N] | audit verify \
     | outbox replay --to <service> --since <RFC 3339 time>]";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Serve,
    Migrate,
    Dlq(DlqCommand),
    /// Check the audit log's hash chain; fails (exit 1) when a link is broken.
    AuditVerify,
    /// Publish the outbox's events since a time again, to one consumer's queue.
    OutboxReplay {
        to: String,
        since: chrono::DateTime<chrono::Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DlqCommand {
    /// Counts of the DLQ's messages by event type and reason.
    List,
    /// Move matching messages back to the service's own queue.
    Replay(ReplayFilter),
}

/// Parse the arguments after the binary's name.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] | ["serve"] => Ok(Command::Serve),
        ["migrate"] => Ok(Command::Migrate),
        ["dlq", "list"] => Ok(Command::Dlq(DlqCommand::List)),
        ["audit", "verify"] => Ok(Command::AuditVerify),
        ["outbox", "replay", options @ ..] => parse_outbox_replay(options),
        ["dlq", "replay", options @ ..] => parse_replay(options).map(|f| Command::Dlq(DlqCommand::Replay(f))),
        _ => Err(format!("unknown command {:?}", args.join(" "))),
    }
}

fn parse_replay(mut options: &[&str]) -> Result<ReplayFilter, String> {
    let mut filter = ReplayFilter::default();
    while let [flag, rest @ ..] = options {
        let (value, rest) = match (flag.split_once('='), rest) {
            (Some((_, v)), rest) => (v, rest),
            (None, [v, rest @ ..]) => (*v, rest),
            (None, []) => return Err(format!("{flag} needs a value")),
        };
        match flag.split('=').next().unwrap_or_default() {
            "--type" if !value.is_empty() => filter.event_type = Some(value.to_string()),
            "--limit" => {
                let n: u64 = value.parse().map_err(|_| format!("--limit must be a whole number, not {value:?}"))?;
                if n == 0 {
                    return Err("--limit must be at least 1".into());
                }
                filter.limit = Some(n);
            }
            other => return Err(format!("unknown option {other:?}")),
        }
        options = rest;
    }
    Ok(filter)
}

fn parse_outbox_replay(mut options: &[&str]) -> Result<Command, String> {
    let (mut to, mut since) = (None, None);
    while let [flag, rest @ ..] = options {
        let (name, value, rest) = match (flag.split_once('='), rest) {
            (Some((n, v)), rest) => (n, v, rest),
            (None, [v, rest @ ..]) => (*flag, *v, rest),
            (None, []) => return Err(format!("{flag} needs a value")),
        };
        match name {
            "--to" if !value.is_empty() && value.chars().all(|c| c.is_ascii_lowercase() || c == '_') => {
                to = Some(value.to_string())
            }
            "--to" => return Err(format!("--to takes a service name, not {value:?}")),
            "--since" => since = Some(parse_time(value)?),
            other => return Err(format!("unknown option {other:?}")),
        }
        options = rest;
    }
    match (to, since) {
        (Some(to), Some(since)) => Ok(Command::OutboxReplay { to, since }),
        _ => Err("outbox replay needs --to <service> and --since <time>".into()),
    }
}

/// RFC 3339, or the `2026-12-04 22:55:09 UTC` a backup archive's table of contents (and
/// scripts/restore.sh) prints.
fn parse_time(value: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&chrono::Utc))
        .or_else(|_| {
            let bare = value.strip_suffix(" UTC").unwrap_or(value);
            chrono::NaiveDateTime::parse_from_str(bare, "%Y-%m-%d %H:%M:%S").map(|t| t.and_utc())
        })
        .map_err(|_| format!("--since must be an RFC 3339 time (2026-12-04T22:55:09Z), not {value:?}"))
}

/// `outbox replay`: publish `schema`'s outbox since `since` again to `to`'s queue.
pub async fn run_outbox_replay(
    service: &str,
    config: &ServiceConfig,
    schema: &str,
    to: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<String, String> {
    let pool = platform::db::connect(config.database_url.expose(), schema, 1).await.map_err(|e| e.to_string())?;
    let topology = events::topology::Topology::new(&config.events_exchange, &config.queue_prefix);
    let report = events::replay::outbox_to_queue(&pool, config.amqp_url.expose(), &topology, service, to, since)
        .await
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "published {} event(s) of {service}'s outbox since {since} again to {}\n",
        report.published,
        topology.queue(to)
    ))
}

/// `audit verify`: the verification of `schema`'s audit log; `Err` when it cannot be read.
pub async fn run_audit_verify(config: &ServiceConfig, schema: &str) -> Result<platform::audit::Verification, String> {
    let pool =
        platform::db::connect(config.database_connect_url().expose(), schema, 1).await.map_err(|e| e.to_string())?;
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    platform::audit::verify(&mut conn).await.map_err(|e| e.to_string())
}

/// Run a `dlq` command for `service` and return what to print.
pub async fn run_dlq(service: &str, config: &ServiceConfig, command: &DlqCommand) -> Result<String, String> {
    let topology = events::topology::Topology::new(&config.events_exchange, &config.queue_prefix);
    let url = config.amqp_connect_url();
    let url = url.expose();
    let dlq = topology.dead_letter_queue(service);
    match command {
        DlqCommand::List => {
            let listing = events::dlq::list(url, &topology, service).await.map_err(|e| e.to_string())?;
            let total: u64 = listing.values().sum();
            let mut out = format!("{dlq}: {total} message(s)\n");
            for ((event_type, reason), n) in &listing {
                out.push_str(&format!("{n:>8}  {event_type}  ({reason})\n"));
            }
            Ok(out)
        }
        DlqCommand::Replay(filter) => {
            let report = events::dlq::replay(url, &topology, service, filter).await.map_err(|e| e.to_string())?;
            Ok(format!(
                "moved {} message(s) from {dlq} to {}; {} left in {dlq}\n",
                report.moved,
                topology.queue(service),
                report.left
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_every_command() {
        assert_eq!(parse(&args("")), Ok(Command::Serve));
        assert_eq!(parse(&args("serve")), Ok(Command::Serve));
        assert_eq!(parse(&args("migrate")), Ok(Command::Migrate));
        assert_eq!(parse(&args("dlq list")), Ok(Command::Dlq(DlqCommand::List)));
        assert_eq!(parse(&args("audit verify")), Ok(Command::AuditVerify));
        let since = chrono::DateTime::parse_from_rfc3339("2026-12-04T22:55:09Z").unwrap().to_utc();
        for line in [
            "outbox replay --to rewards --since 2026-12-04T22:55:09Z",
            "outbox replay --since=2026-12-04T23:55:09+01:00 --to=rewards",
        ] {
            assert_eq!(parse(&args(line)), Ok(Command::OutboxReplay { to: "rewards".into(), since }), "{line}");
        }
        let archive = vec!["outbox".into(), "replay".into(), "--to".into(), "rewards".into(), "--since".into()];
        let archive = [archive, vec!["2026-12-04 22:55:09 UTC".to_string()]].concat();
        assert_eq!(parse(&archive), Ok(Command::OutboxReplay { to: "rewards".into(), since }));
        assert_eq!(parse(&args("dlq replay")), Ok(Command::Dlq(DlqCommand::Replay(ReplayFilter::default()))));
        let both = ReplayFilter { event_type: Some("billing.payment.succeeded.v1".into()), limit: Some(5) };
        assert_eq!(
            parse(&args("dlq replay --type billing.payment.succeeded.v1 --limit 5")),
            Ok(Command::Dlq(DlqCommand::Replay(both.clone())))
        );
        assert_eq!(
            parse(&args("dlq replay --limit=5 --type=billing.payment.succeeded.v1")),
            Ok(Command::Dlq(DlqCommand::Replay(both)))
        );
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        for bad in [
            "dlq",
            "dlq purge",
            "dlq replay --type",
            "dlq replay --limit 0",
            "dlq replay --limit x",
            "dlq replay --all",
            "serve now",
            "audit",
            "audit verify now",
            "outbox replay",
            "outbox replay --to rewards",
            "outbox replay --since 2026-12-04T22:55:09Z",
            "outbox replay --to rewards --since yesterday",
            "outbox replay --to ../x --since 2026-12-04T22:55:09Z",
            "outbox replay --to rewards --since 2026-12-04T22:55:09Z --all",
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad} accepted");
        }
    }
}

//! Logging as the stock webhook-service configures it: `LOG_LEVEL` in pino's names and
//! `LOG_PRETTY=true` for readable lines, otherwise one JSON object per line on stderr, which is
//! what log collectors beside Speckle's other containers expect. `RUST_LOG`, when set, still
//! refines it (e.g. `info,sqlx=warn`), as for our other commands.

use tracing_subscriber::EnvFilter;

/// The filter for a pino level; `fatal` is our `error` (we have nothing above it), `silent` is
/// off.
pub fn filter_for(level: &str) -> Result<&'static str, String> {
    Ok(match level.trim() {
        "" | "info" => "info",
        "trace" => "trace",
        "debug" => "debug",
        "warn" => "warn",
        "error" | "fatal" => "error",
        "silent" => "off",
        other => {
            return Err(format!(
                "LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, not {other:?}"
            ))
        }
    })
}

/// Installs the subscriber for `level` and `pretty` (`LOG_PRETTY`: `true` or anything else, as
/// the stock service reads it).
pub fn init(level: &str, pretty: &str) -> Result<(), String> {
    let base = filter_for(level)?;
    let filter = match std::env::var("RUST_LOG") {
        Ok(extra) if !extra.trim().is_empty() => EnvFilter::try_new(extra.trim())
            .map_err(|e| format!("RUST_LOG {extra:?} is not a filter: {e}"))?,
        _ => EnvFilter::new(base),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = if pretty.trim() == "true" {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    };
    installed.map_err(|e| format!("cannot set up logging: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pino_levels_map_and_others_are_refused() {
        assert_eq!(filter_for("fatal"), Ok("error"));
        assert_eq!(filter_for(""), Ok("info"));
        assert_eq!(filter_for("silent"), Ok("off"));
        assert!(filter_for("verbose").is_err_and(|e| e.contains("LOG_LEVEL")));
    }
}

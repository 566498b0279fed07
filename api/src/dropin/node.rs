//! Passing the Helm chart's liveness probe with our binary. The chart runs
//! `/nodejs/bin/node -e "process.exit(Date.now() - require('fs').readFileSync('/tmp/last_successful_query', 'utf8') > 30 * 1000 ? 1 : 0)"`
//! in the container, which is read-only and has no Node once our image replaces Speckle's. So an
//! image places (or links) `streamhooks` at `/nodejs/bin/node`, and the binary, started under the
//! file name `node` with `-e` and that script, does what Node would: exit 0 when the file holds a
//! time less than 30 s ago, 1 when it is older or missing (Node throws reading a missing file:
//! exit 1). Anything else asked of it as `node` exits 2 with a sentence: it is not Node. The
//! same script naming another file (a test's, say) checks that file.
//!
//! "What Node would" includes JavaScript's arithmetic: the file's text is converted with
//! `Number()` (surrounding whitespace ignored, empty is 0, so stale); text that is not a number
//! gives NaN, every comparison with which is false, so Node exits 0, and so does this. We write
//! the file ourselves, always a number; the case only shows that the check is Node's, not ours.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// The chart's probe script, byte for byte.
pub const HELM_PROBE: &str = "process.exit(Date.now() - require('fs').readFileSync('/tmp/last_successful_query', 'utf8') > 30 * 1000 ? 1 : 0)";

/// The script around the file it reads, and how old the file's time may be.
const SCRIPT_HEAD: &str = "process.exit(Date.now() - require('fs').readFileSync('";
const SCRIPT_TAIL: &str = "', 'utf8') > 30 * 1000 ? 1 : 0)";
const MAX_AGE_MS: f64 = 30.0 * 1000.0;

/// The file the chart's script (or the same script naming another file) reads.
fn probed_file(script: &str) -> Option<&str> {
    let path = script
        .strip_prefix(SCRIPT_HEAD)?
        .strip_suffix(SCRIPT_TAIL)?;
    (!path.is_empty() && !path.contains(['\'', '\\'])).then_some(path)
}

/// When the binary was started as `node`: the probe's exit code (or 2 for anything else); `None`
/// otherwise, and `streamhooks` parses its command line as usual.
pub fn as_node(mut args: impl Iterator<Item = OsString>) -> Option<ExitCode> {
    let argv0 = args.next()?;
    if Path::new(&argv0).file_name() != Some("node".as_ref()) {
        return None;
    }
    let rest: Vec<OsString> = args.collect();
    let file = match rest.as_slice() {
        [flag, script] if flag == "-e" => script.to_str().and_then(probed_file),
        _ => None,
    };
    let code = match file {
        Some(file) => probe(Path::new(file)),
        None => {
            eprintln!(
                "this is streamhooks, not Node.js: as `node` it only runs Speckle's Helm liveness \
                 probe (node -e \"{HELM_PROBE}\"); run it as `streamhooks` for anything else"
            );
            2
        }
    };
    Some(ExitCode::from(code))
}

/// The script's check on `file`: 0 when fresh (or not a number, as in Node), 1 when stale or
/// unreadable.
pub fn probe(file: &Path) -> u8 {
    let Ok(text) = std::fs::read_to_string(file) else {
        return 1;
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_millis() as f64);
    if now_ms - js_number(&text) > MAX_AGE_MS {
        1
    } else {
        0
    }
}

/// JavaScript's `Number(text)` for what a probe file may hold: decimal (with exponent),
/// `Infinity`, `0x`/`0o`/`0b` integers; empty is 0; anything else NaN.
pub fn js_number(text: &str) -> f64 {
    let t = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return 0.0;
    }
    let radix =
        |digits: &str, r: u32| u64::from_str_radix(digits, r).map_or(f64::NAN, |n| n as f64);
    match t.get(..2) {
        Some("0x" | "0X") => return radix(&t[2..], 16),
        Some("0o" | "0O") => return radix(&t[2..], 8),
        Some("0b" | "0B") => return radix(&t[2..], 2),
        _ => {}
    }
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned == "Infinity" {
        return if t.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    // Rust also reads `inf`, `nan` and the like, which JavaScript does not.
    if !unsigned
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
    {
        return f64::NAN;
    }
    t.parse::<f64>().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_convert_as_javascript_converts_them() {
        assert_eq!(js_number(" 1700000000000\n"), 1_700_000_000_000.0);
        assert_eq!(js_number(""), 0.0);
        assert_eq!(js_number("0x10"), 16.0);
        assert_eq!(js_number("1e3"), 1000.0);
        assert!(js_number("soon").is_nan());
        assert!(js_number("inf").is_nan());
        assert!(js_number("12abc").is_nan());
        assert_eq!(js_number("-Infinity"), f64::NEG_INFINITY);
    }

    #[test]
    fn only_the_helm_probe_runs_as_node() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>().into_iter();
        assert!(as_node(args(&["streamhooks", "serve"])).is_none());
        assert_eq!(
            as_node(args(&["/nodejs/bin/node", "main.js"])),
            Some(ExitCode::from(2))
        );
        assert!(as_node(args(&["/nodejs/bin/node", "-e", HELM_PROBE])).is_some());
        assert_eq!(probed_file(HELM_PROBE), Some("/tmp/last_successful_query"));
        assert_eq!(probed_file("process.exit(0)"), None);
    }

    #[test]
    fn fresh_stale_missing_and_garbage_files() {
        let dir = std::env::temp_dir().join(format!("sh-probe-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let f = dir.join("last");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let _ = std::fs::write(&f, now.to_string());
        assert_eq!(probe(&f), 0);
        let _ = std::fs::write(&f, (now - 31_000).to_string());
        assert_eq!(probe(&f), 1);
        let _ = std::fs::write(&f, "not a number");
        assert_eq!(probe(&f), 0);
        let _ = std::fs::remove_file(&f);
        assert_eq!(probe(&f), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

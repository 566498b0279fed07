//! Finding the real third-party clients that interop tests drive: a Python with the pinned PyPI
//! packages of `.ci/requirements.txt` (specklepy, standardwebhooks, svix …) and Debian's Chromium
//! with its WebDriver. They are not Rust dependencies, so a developer's machine may lack them:
//! then the test says what to install and returns early, unless `STREAMHOOKS_REQUIRE_INTEROP=1`
//! (set by `.ci/run`), where a missing client fails the test, because CI must never pass by
//! skipping the suites that prove compatibility.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `STREAMHOOKS_REQUIRE_INTEROP=1`: a missing client is a failure, not a skip.
pub fn required() -> bool {
    std::env::var("STREAMHOOKS_REQUIRE_INTEROP").is_ok_and(|v| v == "1" || v == "true")
}

/// The workspace root (where `.ci/` and `.venv/` live).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Reports a missing client: panics in CI, otherwise prints why the test is skipped.
pub fn missing(what: &str, install: &str) {
    let msg = format!("{what} is not available; install it with: {install}");
    if required() {
        panic!("STREAMHOOKS_REQUIRE_INTEROP is set and {msg}");
    }
    eprintln!("SKIPPED: {msg}");
}

const PYTHON_INSTALL: &str =
    "python3 -m venv .venv && .venv/bin/pip install -r .ci/requirements.txt \
     (or point STREAMHOOKS_PYTHON at a Python that has them)";

/// A Python interpreter that can import every module in `modules`: `STREAMHOOKS_PYTHON`, else
/// `.venv/bin/python` in the workspace. `None` (after [`missing`]) if there is none.
pub fn python_with(modules: &[&str]) -> Option<PathBuf> {
    let python = std::env::var_os("STREAMHOOKS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"));
    let imports = modules
        .iter()
        .map(|m| format!("import {m}"))
        .collect::<Vec<_>>()
        .join("; ");
    let ok = Command::new(&python)
        .args(["-c", &imports])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        Some(python)
    } else {
        missing(
            &format!(
                "a Python with {} ({})",
                modules.join(", "),
                python.display()
            ),
            PYTHON_INSTALL,
        );
        None
    }
}

/// Chromium and its WebDriver: `CHROMIUM` / `CHROMEDRIVER`, else Debian's `/usr/bin` paths.
pub fn chromium() -> Option<(PathBuf, PathBuf)> {
    let find = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(default))
    };
    let browser = find("CHROMIUM", "/usr/bin/chromium");
    let driver = find("CHROMEDRIVER", "/usr/bin/chromedriver");
    if browser.is_file() && driver.is_file() {
        Some((browser, driver))
    } else {
        missing(
            &format!(
                "Chromium ({}) with its WebDriver ({})",
                browser.display(),
                driver.display()
            ),
            "apt-get install chromium chromium-driver (Debian), or set CHROMIUM and CHROMEDRIVER",
        );
        None
    }
}

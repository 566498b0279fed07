//! Finding the real third-party clients that interop tests drive: a Python with the pinned PyPI
//! packages of `.ci/requirements.txt` (specklepy 3, standardwebhooks, svix …), a second one with
//! the newest specklepy of `.ci/requirements-latest.txt`, and Debian's Chromium with its WebDriver. They are not Rust dependencies, so a developer's machine may lack them:
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

/// An interpreter set up from one requirements file.
struct Venv {
    /// The variable naming the interpreter.
    var: &'static str,
    /// The virtualenv in the workspace used when the variable is unset.
    dir: &'static str,
    requirements: &'static str,
}

const PINNED: Venv = Venv {
    var: "STREAMHOOKS_PYTHON",
    dir: ".venv",
    requirements: ".ci/requirements.txt",
};

const LATEST: Venv = Venv {
    var: "STREAMHOOKS_PYTHON_LATEST",
    dir: ".venv-latest",
    requirements: ".ci/requirements-latest.txt",
};

/// A Python interpreter that can import every module in `modules`: `STREAMHOOKS_PYTHON`, else
/// `.venv/bin/python` in the workspace (the packages of `.ci/requirements.txt`). `None` (after
/// [`missing`]) if there is none.
pub fn python_with(modules: &[&str]) -> Option<PathBuf> {
    find_python(&PINNED, modules)
}

/// The same for the newest specklepy (`.ci/requirements-latest.txt`): `STREAMHOOKS_PYTHON_LATEST`,
/// else `.venv-latest/bin/python`.
pub fn latest_python_with(modules: &[&str]) -> Option<PathBuf> {
    find_python(&LATEST, modules)
}

/// The version `package` is pinned at (`==`) in `.ci/requirements.txt`, or with `latest` in
/// `.ci/requirements-latest.txt`.
pub fn pinned_version(latest: bool, package: &str) -> Option<String> {
    let file = if latest { &LATEST } else { &PINNED }.requirements;
    let text = std::fs::read_to_string(workspace_root().join(file)).ok()?;
    text.lines()
        .filter_map(|l| l.split_once("=="))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case(package))
        .map(|(_, version)| version.trim().to_owned())
}

fn find_python(venv: &Venv, modules: &[&str]) -> Option<PathBuf> {
    let python = std::env::var_os(venv.var)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(venv.dir).join("bin/python"));
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
            &format!(
                "python3 -m venv {dir} && {dir}/bin/pip install -r {req} (or point {var} at a \
                 Python that has them)",
                dir = venv.dir,
                req = venv.requirements,
                var = venv.var
            ),
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

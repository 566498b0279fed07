//! A small client for the W3C WebDriver protocol (plain JSON over HTTP, here with the reqwest the
//! suite already has), driving Debian's headless Chromium through chromedriver for the console's
//! browser tests. A crate such as fantoccini would add a second HTTP stack to build on two cores
//! for the dozen commands the tests use.
//!
//! The decision a reader may question: chromedriver is started in a process group of its own,
//! and Chromium (which chromedriver starts) inherits that group, so dropping a [`Browser`] kills
//! the whole group. That holds when a test panics or times out half-way, where no async clean-up
//! can run: no browser outlives its test. Every command and every wait is bounded in time.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

/// The key W3C WebDriver names element references with.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long one WebDriver command may take, and how long [`Browser::wait`] waits by default.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
pub const WAIT: Duration = Duration::from_secs(15);

pub const ENTER: &str = "\u{E007}";
pub const TAB: &str = "\u{E004}";
pub const ESCAPE: &str = "\u{E00C}";

/// One headless Chromium with its chromedriver, on a fresh profile.
pub struct Browser {
    http: reqwest::Client,
    driver_url: String,
    session: String,
    driver: Child,
    profile: PathBuf,
}

/// An element of the current page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port for chromedriver: {e}"))
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium `width`×`height` px.
    pub async fn start(chromium: &Path, chromedriver: &Path, width: u32, height: u32) -> Browser {
        let port = free_port();
        let profile = std::env::temp_dir().join(format!(
            "streamhooks-chromium-{}-{port}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&profile);
        let http = reqwest::Client::builder()
            .timeout(COMMAND_TIMEOUT)
            .build()
            .unwrap_or_else(|e| panic!("HTTP client: {e}"));
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", chromedriver.display()));
        let mut browser = Browser {
            http,
            driver_url: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            driver,
            profile,
        };
        browser.wait_for_driver().await;
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            "--force-device-scale-factor=1".to_owned(),
            "--lang=en-US".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", browser.profile.display()),
        ];
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "binary": chromium.display().to_string(), "args": args },
            "timeouts": { "implicit": 0, "pageLoad": 20_000, "script": 10_000 },
        } } });
        let created = browser.raw("POST", "/session", Some(caps)).await;
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver made no session: {created}"))
            .to_owned();
        browser
    }

    async fn wait_for_driver(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let ready = self
                .http
                .get(format!("{}/status", self.driver_url))
                .send()
                .await
                .ok()
                .map(|r| r.json::<Value>());
            if let Some(body) = ready {
                if body.await.is_ok_and(|v| v["value"]["ready"] == true) {
                    return;
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not become ready on {}",
                self.driver_url
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One WebDriver command; panics with the driver's error message if it fails.
    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.driver_url);
        let req = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self
                .http
                .post(&url)
                .json(&body.unwrap_or_else(|| json!({}))),
        };
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let status = resp.status();
        let v: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: not JSON: {e}"));
        assert!(
            status.is_success(),
            "WebDriver {method} {path} failed ({status}): {}",
            v["value"]
        );
        v["value"].clone()
    }

    /// A command on this session.
    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.raw(method, &format!("/session/{}{path}", self.session), body)
            .await
    }

    pub async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
    }

    /// Reloads the page, as F5 does.
    pub async fn reload(&self) {
        self.cmd("POST", "/refresh", Some(json!({}))).await;
    }

    /// The viewport's size in CSS px is what layouts react to; the window is sized to match.
    pub async fn resize(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    /// Runs `body` as a function body with `arguments`; returns what it returns.
    pub async fn script(&self, body: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": body, "args": args })),
        )
        .await
    }

    fn element(&self, v: &Value) -> Option<Element<'_>> {
        v[ELEMENT].as_str().map(|id| Element {
            browser: self,
            id: id.to_owned(),
        })
    }

    /// All elements matching `css` now.
    pub async fn all(&self, css: &str) -> Vec<Element<'_>> {
        let v = self
            .cmd(
                "POST",
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        v.as_array()
            .map(|a| a.iter().filter_map(|e| self.element(e)).collect())
            .unwrap_or_default()
    }

    /// Waits until `condition` (a JavaScript expression) is truthy; returns its value. Panics
    /// naming `what` and the last value if it is not within [`WAIT`].
    pub async fn wait(&self, what: &str, condition: &str) -> Value {
        let body = format!("return ({condition});");
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self.script(&body, json!([])).await;
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited {WAIT:?} for {what} ({condition}); last value {v}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until an element matching `css` exists and is displayed; returns it.
    pub async fn find(&self, css: &str) -> Element<'_> {
        let cond = format!(
            "(() => {{ const e = document.querySelector({}); return !!e && e.getClientRects().length > 0; }})()",
            json!(css)
        );
        self.wait(&format!("a visible {css}"), &cond).await;
        self.all(css)
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("{css} vanished"))
    }

    /// Chooses `value` in the `<select>` matching `css`, by clicking its option as a user does.
    pub async fn choose(&self, css: &str, value: &str) {
        self.find(css).await;
        let option = format!("{css} option[value='{value}']");
        let found = self.all(&option).await;
        let Some(o) = found.first() else {
            panic!("no {option}");
        };
        o.click().await;
        let chosen = self
            .script(
                "return document.querySelector(arguments[0]).value",
                json!([css]),
            )
            .await;
        assert_eq!(chosen, json!(value), "{css} did not take {value}");
    }

    /// Presses keys (WebDriver key codes such as [`TAB`]) on whatever has focus.
    pub async fn keys(&self, keys: &str) {
        let mut actions = Vec::new();
        for k in keys.chars() {
            actions.push(json!({ "type": "keyDown", "value": k.to_string() }));
            actions.push(json!({ "type": "keyUp", "value": k.to_string() }));
        }
        self.cmd(
            "POST",
            "/actions",
            Some(json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": actions }] })),
        )
        .await;
    }

    /// A PNG of the whole page (beyond the viewport), through Chromium's DevTools command.
    pub async fn screenshot_full(&self) -> Vec<u8> {
        let v = self
            .cmd(
                "POST",
                "/goog/cdp/execute",
                Some(json!({ "cmd": "Page.captureScreenshot",
                             "params": { "format": "png", "captureBeyondViewport": true } })),
            )
            .await;
        base64::engine::general_purpose::STANDARD
            .decode(v["data"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("screenshot is not base64: {e}"))
    }

    /// Ends the session (Chromium exits), then stops chromedriver.
    pub async fn close(self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.driver_url, self.session))
            .send()
            .await;
        // Drop stops chromedriver and anything left in its process group.
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The negative pid names the process group: chromedriver and every Chromium process.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Element<'_> {
    fn path(&self, tail: &str) -> String {
        format!("/element/{}{tail}", self.id)
    }

    pub async fn click(&self) {
        self.browser
            .cmd("POST", &self.path("/click"), Some(json!({})))
            .await;
    }

    /// Types `text` into the element (after focusing it), as a user would.
    pub async fn type_text(&self, text: &str) {
        self.browser
            .cmd("POST", &self.path("/value"), Some(json!({ "text": text })))
            .await;
    }

    pub async fn clear(&self) {
        self.browser
            .cmd("POST", &self.path("/clear"), Some(json!({})))
            .await;
    }

    /// The rendered text, as the user sees it.
    pub async fn text(&self) -> String {
        let v = self.browser.cmd("GET", &self.path("/text"), None).await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// An attribute's value, or "" if it has none.
    pub async fn attr(&self, name: &str) -> String {
        let v = self
            .browser
            .cmd("GET", &self.path(&format!("/attribute/{name}")), None)
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    pub async fn displayed(&self) -> bool {
        self.browser
            .cmd("GET", &self.path("/displayed"), None)
            .await
            == json!(true)
    }

    /// Moves the mouse over the element's centre.
    pub async fn hover(&self) {
        let origin = json!({ ELEMENT: self.id });
        let actions = json!({ "actions": [{
            "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" },
            "actions": [{ "type": "pointerMove", "duration": 0, "origin": origin, "x": 0, "y": 0 }],
        }] });
        self.browser.cmd("POST", "/actions", Some(actions)).await;
    }
}

//! The web console at `GET /`: its headers and files over plain HTTP, the trigger list it offers,
//! and what a user does with it in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, found by `testkit::interop::chromium()`), driven over WebDriver by
//! [`crate::webdriver`]: sign in, create a webhook pointing at a real receiver, ping it, see the
//! icons, read the error on hover and by keyboard, re-enable, open a delivery, redeliver, edit,
//! delete, sign out; and that text from receivers and users is shown as text and runs nothing.
//!
//! One browser runs at a time (the machine has two cores); each test owns its browser, which is
//! killed when the test ends, passes or fails. With `STREAMHOOKS_SCREENSHOTS=1` the tests also
//! write the README's screenshots into `docs/screenshots/` (CI leaves them alone).

mod flow;
mod hostile;
mod paging;
mod recover;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use streamhooks_api::testkit::{interop, Received, TestReceiver, TestServer, TestUser};

pub use crate::support::verified_payload;
use crate::webdriver::Browser;

/// One Chromium at a time across the suite's threads.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
/// The longest a browser test may run before it fails (and its browser is killed).
const TEST_BUDGET: Duration = Duration::from_secs(240);

pub const WIDE: (u32, u32) = (1440, 900);
pub const NARROW: (u32, u32) = (375, 812);

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test]
async fn the_page_and_its_files_carry_strict_headers() {
    let server = TestServer::start_with(&[], false).await;
    let page = get(&format!("{}/", server.url())).await;
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "cache-control"), "no-cache");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    let csp = header(&page, "content-security-policy").to_owned();
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "require-trusted-types-for 'script'",
    ] {
        assert!(csp.contains(part), "CSP lacks {part}: {csp}");
    }
    assert!(
        !csp.contains("unsafe"),
        "CSP allows something unsafe: {csp}"
    );
    let html = page.text().await.unwrap_or_default();
    assert!(!html.contains("<style"), "inline style element in the page");
    assert!(
        !html.contains(" style="),
        "inline style attribute in the page"
    );
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script type=\"module\" src=\"/assets/")
            .count(),
        "every script is a file of the console"
    );

    let prefix = streamhooks_api::console::assets_prefix();
    let mut scripts = String::new();
    for (file, kind) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("deliveries.js", "text/javascript; charset=utf-8"),
        ("console.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ] {
        let url = format!("{}{prefix}/{file}", server.url());
        assert!(html.contains(&format!("{prefix}/")), "page names {prefix}");
        let r = get(&url).await;
        assert_eq!(r.status(), 200, "{url}");
        assert_eq!(header(&r, "content-type"), kind, "{file}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{file}");
        assert!(header(&r, "cache-control").contains("immutable"), "{file}");
        scripts.push_str(&r.text().await.unwrap_or_default());
    }
    // Cached files are immutable only because their URL changes with their content: another
    // build's URL must not answer with this build's file.
    let stale = get(&format!("{}/assets/0000000000000000/app.js", server.url())).await;
    assert_eq!(stale.status(), 404);
    assert_eq!(header(&stale, "cache-control"), "no-store");
    let missing = get(&format!("{}{prefix}/nope.js", server.url())).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(
        get(&format!("{}/graphql", server.url())).await.status(),
        200,
        "GraphiQL still answers beside the console"
    );
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
    ] {
        assert!(!scripts.contains(sink), "a console script uses {sink}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn webhook_triggers_lists_exactly_what_webhooks_accept() {
    let server = TestServer::start_with(&[], false).await;
    let d = server.gql(None, "{ webhookTriggers }", json!({})).await;
    let triggers: Vec<String> = serde_json::from_value(d["data"]["webhookTriggers"].clone())
        .unwrap_or_else(|e| panic!("webhookTriggers without a token: {e}: {d}"));
    assert!(
        triggers.iter().any(|t| t == "commit_create"),
        "{triggers:?}"
    );
    assert!(
        triggers.iter().any(|t| t == "stream_update"),
        "{triggers:?}"
    );
    let ada = server.create_user("Ada", "ada@example.com").await;
    let stream = server.create_stream(&ada, "Triggers").await;
    let all: Vec<&str> = triggers.iter().map(String::as_str).collect();
    let id = server
        .create_webhook(&ada, &stream, "https://example.com/hook", &all, None)
        .await;
    let back = server
        .gql_ok(
            &ada.token,
            "query($s: String!, $id: String) { stream(id: $s) { webhooks(id: $id) { items { triggers } } } }",
            json!({ "s": stream, "id": id }),
        )
        .await;
    assert_eq!(
        back["stream"]["webhooks"]["items"][0]["triggers"],
        json!(triggers)
    );
    server.shutdown().await;
}

/// Runs a browser scenario with a fresh Chromium `WIDE` px wide, one at a time, bounded by
/// [`TEST_BUDGET`]. Returns without running if Chromium is missing (and not required).
pub async fn with_browser<F, Fut>(scenario: F)
where
    F: FnOnce(Browser) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some((chromium, driver)) = interop::chromium() else {
        return;
    };
    let _turn = ONE_BROWSER.lock().await;
    let run = async {
        let browser = Browser::start(&chromium, &driver, WIDE.0, WIDE.1).await;
        scenario(browser).await;
    };
    tokio::time::timeout(TEST_BUDGET, run)
        .await
        .unwrap_or_else(|_| panic!("the browser test took longer than {TEST_BUDGET:?}"));
}

/// Signs in on the sign-in form with `user`'s token, by keyboard.
pub async fn sign_in(b: &Browser, server: &TestServer, user: &TestUser) {
    b.goto(&format!("{}/", server.url())).await;
    let input = b.find("#token").await;
    input.type_text(&user.token).await;
    b.keys(crate::webdriver::ENTER).await;
    b.find("#session").await;
}

/// Signs in as `user` and opens the page of `stream`'s webhook `hook`.
pub async fn open_webhook(
    b: &Browser,
    server: &TestServer,
    user: &TestUser,
    stream: &str,
    hook: &str,
) {
    sign_in(b, server, user).await;
    b.goto(&format!(
        "{}/#/streams/{stream}/webhooks/{hook}",
        server.url()
    ))
    .await;
}

/// The webhooks of `stream` as the API reports them.
pub async fn webhooks(server: &TestServer, user: &TestUser, stream: &str) -> Vec<Value> {
    let d = server
        .gql_ok(
            &user.token,
            "query($s: String!) { stream(id: $s) { webhooks { items { id url description triggers enabled hasSecret disabledReason } } } }",
            json!({ "s": stream }),
        )
        .await;
    d["stream"]["webhooks"]["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub async fn next(receiver: &TestReceiver) -> Received {
    receiver
        .next(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("the receiver got no request"))
}

pub fn hook(server: &[Value], url: &str) -> Value {
    server
        .iter()
        .find(|w| w["url"] == url)
        .cloned()
        .unwrap_or_else(|| panic!("no webhook for {url} in {server:?}"))
}

pub fn set(v: &Value) -> BTreeSet<String> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

fn screenshots_dir() -> Option<PathBuf> {
    if !std::env::var("STREAMHOOKS_SCREENSHOTS").is_ok_and(|v| v == "1") {
        return None;
    }
    let dir = interop::workspace_root().join("docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    Some(dir)
}

/// Checks the current screen at 375 px (nothing wider than the viewport) and, when asked,
/// saves `name`-1440.png and `name`-375.png; leaves the window `WIDE` again.
pub async fn check_widths(b: &Browser, name: &str) {
    let dir = screenshots_dir();
    if let Some(dir) = &dir {
        std::fs::write(
            dir.join(format!("{name}-1440.png")),
            b.screenshot_full().await,
        )
        .unwrap_or_else(|e| panic!("write screenshot: {e}"));
    }
    b.resize(NARROW.0, NARROW.1).await;
    b.wait("a 375 px viewport", "window.innerWidth === 375")
        .await;
    let overflow = b
        .script(
            "return document.documentElement.scrollWidth - window.innerWidth",
            json!([]),
        )
        .await;
    assert!(
        overflow.as_i64().is_some_and(|o| o <= 0),
        "{name} is wider than a 375 px screen by {overflow} px"
    );
    if let Some(dir) = &dir {
        std::fs::write(
            dir.join(format!("{name}-375.png")),
            b.screenshot_full().await,
        )
        .unwrap_or_else(|e| panic!("write screenshot: {e}"));
    }
    b.resize(WIDE.0, WIDE.1).await;
    b.wait("a 1440 px viewport", "window.innerWidth === 1440")
        .await;
}

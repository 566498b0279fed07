//! [`TestDatabase`]: a fresh, empty database for one test or one benchmark run: a SQLite file in
//! a temporary directory, or a new `sh_<random>` database on the PostgreSQL server that
//! `TEST_DATABASE_URL` names. It hands out a URL, not a connection, because each user opens it its
//! own way (the server with its pool and SQLite settings, the dispatcher's tests with theirs, the
//! benchmark through the binary under test) and migrates it, or not, as it needs.
//!
//! It removes what it made when it is dropped, also when its test panics: the SQLite directory,
//! or the PostgreSQL database (`DROP DATABASE … WITH (FORCE)`, which ends the connections a failed
//! test's server still holds). Only a process killed outright leaves one behind; the README says
//! how to clear those.

use std::path::PathBuf;

use rand::Rng;
use sea_orm::{ConnectionTrait, Database};

fn random_suffix() -> String {
    format!("{:016x}", rand::thread_rng().gen::<u64>())
}

/// A database made for one test, removed again when dropped.
pub struct TestDatabase {
    pub url: String,
    dir: Option<PathBuf>,
    /// On PostgreSQL: the server's admin URL and the database's name, to drop it with.
    made_on: Option<(String, String)>,
}

/// The PostgreSQL server to test on, if `TEST_DATABASE_URL` names one.
fn admin_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty())
}

impl TestDatabase {
    /// A new PostgreSQL database if `TEST_DATABASE_URL` is set, else a SQLite file in a temp dir.
    pub async fn create() -> Result<Self, String> {
        match admin_url() {
            Some(admin) => Self::postgres(&admin).await,
            None => Ok(Self::sqlite()),
        }
    }

    /// A SQLite file, plus a PostgreSQL database when `TEST_DATABASE_URL` is set: for tests that
    /// cover both backends in one run.
    pub async fn each_backend() -> Result<Vec<Self>, String> {
        let mut out = vec![Self::sqlite()];
        if let Some(admin) = admin_url() {
            out.push(Self::postgres(&admin).await?);
        }
        Ok(out)
    }

    pub fn sqlite() -> Self {
        let dir = std::env::temp_dir().join(format!("streamhooks-test-{}", random_suffix()));
        let url = format!("sqlite://{}?mode=rwc", dir.join("test.sqlite").display());
        let _ = std::fs::create_dir_all(&dir);
        Self {
            url,
            dir: Some(dir),
            made_on: None,
        }
    }

    /// Creates `sh_<random>` on the server `admin_url` points at.
    pub async fn postgres(admin_url: &str) -> Result<Self, String> {
        let name = format!("sh_{}", random_suffix());
        let admin = Database::connect(admin_url)
            .await
            .map_err(|e| format!("TEST_DATABASE_URL {admin_url}: {e}"))?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
        let _ = admin.close().await;
        let mut url = url::Url::parse(admin_url).map_err(|e| e.to_string())?;
        url.set_path(&name);
        Ok(Self {
            url: url.to_string(),
            dir: None,
            made_on: Some((admin_url.to_owned(), name)),
        })
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

    /// `"postgres"` or `"sqlite"`, for messages that say which backend failed.
    pub fn backend(&self) -> &'static str {
        if self.is_postgres() {
            "postgres"
        } else {
            "sqlite"
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((admin, name)) = self.made_on.take() {
            drop_postgres(admin, name);
        }
    }
}

/// Drops database `name` on the server `admin` points at, ending its connections first (`WITH
/// (FORCE)`, PostgreSQL 13 and later). `Drop` cannot await, and it usually runs on a runtime's
/// thread, where blocking on that runtime would panic; so a thread of its own with a runtime of
/// its own does it, and this waits for it. A failure is printed, not raised: a second panic
/// while a failed test unwinds would abort the whole test binary.
fn drop_postgres(admin: String, name: String) {
    let statement = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let work = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        runtime.block_on(async {
            use sea_orm::sqlx::{Connection, Executor, PgConnection};
            let mut conn = PgConnection::connect(&admin)
                .await
                .map_err(|e| e.to_string())?;
            conn.execute(statement.as_str())
                .await
                .map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            Ok::<(), String>(())
        })
    });
    let outcome = work
        .join()
        .unwrap_or_else(|_| Err("the dropping thread panicked".into()));
    if let Err(e) = outcome {
        eprintln!("could not drop the test database {name}: {e} (see the README on cleaning up)");
    }
}

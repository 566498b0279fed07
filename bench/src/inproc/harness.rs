//! What every in-process scenario starts from: a fresh database (a SQLite file, or a PostgreSQL
//! database when given a URL) with the bench's webhooks, their secrets sealed as a server seals
//! them; a receiver on 127.0.0.1 that counts what arrives; and the dispatcher
//! (`streamhooks_worker::run`) as a task of this process, started only once the scenario has
//! queued what it will drain, so that seeding stays outside every figure.

use std::sync::Arc;
use std::time::Duration;

use streamhooks_worker::secrets::Secrets;
use streamhooks_worker::testkit::TestReceiver;
use streamhooks_worker::wire::Format;
use streamhooks_worker::{queue_depth, Metrics, Notifier, WorkerConfig};
use tokio_util::sync::CancellationToken;

use crate::seed;
use crate::stats::BoxError;

pub struct Harness {
    pub bench: seed::BenchDb,
    /// The key the webhooks' secrets are sealed with, as a server would seal them, and its text
    /// for worker processes (`SECRETS_KEY`).
    secrets: Secrets,
    pub key: String,
    pub hooks: Vec<String>,
    /// Counting only: it shares the two cores with the dispatcher under test.
    pub receiver: TestReceiver,
    pub notifier: Notifier,
    cancel: CancellationToken,
    worker: Option<tokio::task::JoinHandle<Result<(), streamhooks_worker::Error>>>,
}

impl Harness {
    /// A fresh database (PostgreSQL at `pg`, or a SQLite file) with `webhooks` webhooks of
    /// `format`, all delivering to the receiver.
    pub async fn new(
        pg: Option<&str>,
        webhooks: usize,
        format: Format,
    ) -> Result<Harness, BoxError> {
        let bench = match pg {
            Some(url) => seed::postgres(url).await?,
            None => seed::sqlite().await?,
        };
        let receiver = TestReceiver::counting().await?;
        let key = streamhooks_worker::secrets::generate_key()?;
        let secrets = Secrets::from_text(&key)?;
        let sealed = secrets.seal("bench-secret")?;
        let hooks = seed::webhooks(
            &bench.db,
            &format!("http://{}", receiver.addr),
            webhooks,
            &sealed,
            format.as_str(),
        )
        .await?;
        Ok(Harness {
            bench,
            secrets,
            key,
            hooks,
            receiver,
            notifier: Notifier::new(),
            cancel: CancellationToken::new(),
            worker: None,
        })
    }

    /// Starts the dispatcher with `worker`'s settings, allowed to reach the local receiver.
    pub fn start(&mut self, worker: &WorkerConfig) {
        let mut config = worker.clone();
        config.allow_local_network = true;
        self.worker = Some(tokio::spawn(streamhooks_worker::run(
            self.bench.db.clone(),
            Arc::new(config),
            self.secrets.clone(),
            self.notifier.clone(),
            Arc::new(Metrics::new()),
            self.cancel.clone(),
        )));
    }

    /// Waits until nothing is queued or in flight: every result recorded.
    pub async fn drained(&self) -> Result<(), BoxError> {
        loop {
            if queue_depth(&self.bench.db).await? == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn finish(mut self) -> Result<(), BoxError> {
        self.cancel.cancel();
        if let Some(w) = self.worker.take() {
            w.await??;
        }
        self.bench.cleanup().await;
        Ok(())
    }
}

//! Which databases to deliver from: `PG_CONNECTION_STRING`'s alone, or with
//! `FF_WORKSPACES_MULTI_REGION_ENABLED=true` every database of Speckle's multi-region file, main
//! first, as the stock service's `knex.js` lists them. The file is Speckle's own
//! (`packages/shared/src/environment/db.ts`): `{"main": {"postgres": {…}}, "regions": {"<key>":
//! {"postgres": {…}}}}`, of which we read `connectionUri` and `publicTlsCertificate`; the rest
//! (blob storage, `privateConnectionUri`, `databaseName`) the stock service does not use either.
//!
//! TLS as the stock service gets it: the URL's `sslmode` (read as libpq reads it), the CAs of
//! `NODE_EXTRA_CA_CERTS` (Node adds them to every TLS connection), and a region's
//! `publicTlsCertificate`, which Speckle passes as `ssl: {ca, rejectUnauthorized: true}`, that is
//! TLS checked against that CA and the host name: `verify-full`.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use sea_orm::sqlx::postgres::{PgConnectOptions, PgSslMode};
use serde::Deserialize;

use crate::context::db::redact;
use crate::dropin::config::Connection;

/// One database to deliver from.
#[derive(Debug, Clone)]
pub struct Region {
    /// `main`, or the key in the multi-region file.
    pub key: String,
    /// The URL with its password hidden, for messages.
    pub shown: String,
    pub options: PgConnectOptions,
}

#[derive(Deserialize)]
struct File {
    main: RegionEntry,
    #[serde(default)]
    regions: BTreeMap<String, RegionEntry>,
}

#[derive(Deserialize)]
struct RegionEntry {
    postgres: Postgres,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Postgres {
    connection_uri: String,
    public_tls_certificate: Option<String>,
}

/// The databases `c` names, each with its connection options; a sentence when they cannot be
/// read.
pub fn regions(c: &Connection) -> Result<Vec<Region>, String> {
    let extra_ca = match c.ca_file() {
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            format!(
                "NODE_EXTRA_CA_CERTS names {}, which cannot be read: {e}",
                path.display()
            )
        })?),
        None => None,
    };
    if !c.multi_region {
        let options = options(
            &c.pg_connection_string,
            None,
            extra_ca.as_deref(),
            "PG_CONNECTION_STRING",
        )?;
        return Ok(vec![Region {
            key: "main".into(),
            shown: redact(&c.pg_connection_string),
            options,
        }]);
    }
    let file = read_file(&c.multi_region_config_path)?;
    let mut out = Vec::with_capacity(1 + file.regions.len());
    let entries = std::iter::once(("main".to_owned(), file.main)).chain(file.regions);
    for (key, entry) in entries {
        let what = format!(
            "the connectionUri of region {key:?} in {}",
            c.multi_region_config_path.display()
        );
        let pg = entry.postgres;
        out.push(Region {
            options: options(
                &pg.connection_uri,
                pg.public_tls_certificate.as_deref(),
                extra_ca.as_deref(),
                &what,
            )?,
            shown: redact(&pg.connection_uri),
            key,
        });
    }
    Ok(out)
}

fn read_file(path: &Path) -> Result<File, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "FF_WORKSPACES_MULTI_REGION_ENABLED is true but the multi-region config file {} \
             (MULTI_REGION_CONFIG_PATH) cannot be read: {e}",
            path.display()
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "the multi-region config file {} does not fit Speckle's schema ({{\"main\": \
             {{\"postgres\": {{\"connectionUri\": …}}}}, \"regions\": {{…}}}}): {e}",
            path.display()
        )
    })
}

/// Options for `url` with TLS as the module docs say; `what` names the setting in sentences.
fn options(
    url: &str,
    region_ca: Option<&str>,
    extra_ca: Option<&[u8]>,
    what: &str,
) -> Result<PgConnectOptions, String> {
    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
        return Err(format!(
            "{what} must be a postgres:// URL, not {}",
            redact(url)
        ));
    }
    let mut opts = PgConnectOptions::from_str(url)
        .map_err(|e| format!("{what} ({}) cannot be used: {e}", redact(url)))?;
    let mut roots = Vec::new();
    if let Some(ca) = region_ca {
        roots.extend_from_slice(ca.as_bytes());
        roots.push(b'\n');
        opts = opts.ssl_mode(PgSslMode::VerifyFull);
    }
    if let Some(extra) = extra_ca {
        roots.extend_from_slice(extra);
    }
    if !roots.is_empty() {
        opts = opts.ssl_root_cert_from_pem(roots);
    }
    Ok(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_a_region_certificate_means_verify_full() {
        assert!(options("mysql://x", None, None, "PG_CONNECTION_STRING")
            .is_err_and(|e| e.starts_with("PG_CONNECTION_STRING")));
        let plain = options("postgres://u:p@h/db", None, None, "X").map(|o| o.get_ssl_mode());
        assert!(matches!(plain, Ok(PgSslMode::Prefer)));
        let pinned = options("postgres://u:p@h/db", Some("-----BEGIN…"), None, "X")
            .map(|o| o.get_ssl_mode());
        assert!(matches!(pinned, Ok(PgSslMode::VerifyFull)));
    }

    #[test]
    fn speckles_multi_region_file_is_read() {
        let text = r#"{"main": {"postgres": {"connectionUri": "postgres://a@h/main"},
                        "blobStorage": {"endpoint": "http://minio"}},
                       "regions": {"eu": {"postgres": {"connectionUri": "postgres://a@h/eu",
                                                       "publicTlsCertificate": "PEM"}}},
                       "defaultProjectRegionKey": "eu"}"#;
        let f: Result<File, _> = serde_json::from_str(text);
        let f = f.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.main.postgres.connection_uri, "postgres://a@h/main");
        assert_eq!(
            f.regions["eu"].postgres.public_tls_certificate.as_deref(),
            Some("PEM")
        );
    }
}

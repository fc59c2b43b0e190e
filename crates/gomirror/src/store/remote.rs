//! Object storage named by a URL (`GOMIRROR_STORE`): `s3://bucket/prefix`
//! with the usual `AWS_*` variables, `gs://bucket/prefix` (`GOOGLE_*`),
//! `az://container/prefix` (`AZURE_*`), `memory://` (a bucket in this
//! process, for trying things out). The prefix is applied to every object
//! name, so several mirrors can share a bucket.

use object_store::prefix::PrefixStore;
use object_store::{ClientConfigKey, ObjectStore, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

/// The HTTP client settings for object storage: short timeouts and few
/// retries, so an outage (e.g. a cluster without quorum answering 503)
/// shows as an error within seconds, not minutes. (Set key by key, so the
/// environment's other client settings, such as `AWS_ALLOW_HTTP`, stay.)
const CLIENT: [(ClientConfigKey, &str); 2] = [
    (ClientConfigKey::ConnectTimeout, "3s"),
    (ClientConfigKey::Timeout, "60s"),
];

fn retry() -> RetryConfig {
    RetryConfig {
        max_retries: 2,
        retry_timeout: Duration::from_secs(10),
        ..RetryConfig::default()
    }
}

/// Opens the object storage `url` names (bucket and prefix), reading
/// credentials and endpoints from the environment.
pub fn object_store_for(url: &str) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow::anyhow!("not a URL"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let base = format!("{scheme}://{bucket}");
    let inner: Arc<dyn ObjectStore> = match scheme {
        "s3" => {
            use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
            let b = CLIENT
                .iter()
                .fold(AmazonS3Builder::from_env(), |b, (k, v)| {
                    b.with_config(AmazonS3ConfigKey::Client(*k), *v)
                });
            // Bulk deletes are slow or unsupported on some S3
            // implementations (Garage): deletes go one by one.
            Arc::new(
                b.with_url(&base)
                    .with_disable_bulk_delete(true)
                    .with_retry(retry())
                    .build()?,
            )
        }
        "gs" => {
            use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
            let b = CLIENT
                .iter()
                .fold(GoogleCloudStorageBuilder::from_env(), |b, (k, v)| {
                    b.with_config(GoogleConfigKey::Client(*k), *v)
                });
            Arc::new(b.with_url(&base).with_retry(retry()).build()?)
        }
        "az" => {
            use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
            let b = CLIENT
                .iter()
                .fold(MicrosoftAzureBuilder::from_env(), |b, (k, v)| {
                    b.with_config(AzureConfigKey::Client(*k), *v)
                });
            Arc::new(b.with_url(&base).with_retry(retry()).build()?)
        }
        "memory" => Arc::new(object_store::memory::InMemory::new()),
        other => anyhow::bail!("unsupported scheme {other:?}"),
    };
    let prefix = prefix.trim_matches('/');
    Ok(if prefix.is_empty() {
        inner
    } else {
        Arc::new(PrefixStore::new(inner, prefix))
    })
}

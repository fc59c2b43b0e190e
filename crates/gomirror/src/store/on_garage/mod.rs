//! The store compliance suite against real object storage: a 3-node
//! Garage cluster on loopback (replication factor 3), started with the
//! integration tests' own harness.

#[allow(dead_code)]
#[path = "../../../tests/support/garage.rs"]
mod garage;
#[allow(dead_code)]
#[path = "../../../tests/support/proc.rs"]
mod proc;
use proc::{http10_get, run, tail};

use super::{BucketStore, Coordination, TieredStore};
use std::sync::Arc;

fn bucket(g: &garage::Garage, node: usize, prefix: &str, dir: &std::path::Path) -> BucketStore {
    let vars = g.store_env(node, prefix);
    let get = |k: &str| vars.iter().find(|(n, _)| n == k).unwrap().1.clone();
    let inner = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(get("AWS_ENDPOINT_URL"))
        .with_region(get("AWS_REGION"))
        .with_access_key_id(get("AWS_ACCESS_KEY_ID"))
        .with_secret_access_key(get("AWS_SECRET_ACCESS_KEY"))
        .with_allow_http(true)
        .with_bucket_name(g.bucket())
        .with_disable_bulk_delete(true)
        .build()
        .unwrap();
    let inner: Arc<dyn object_store::ObjectStore> =
        Arc::new(object_store::prefix::PrefixStore::new(inner, prefix));
    BucketStore::new(inner, &dir.join("stage"), &get("GOMIRROR_STORE")).unwrap()
}

#[test]
fn bucket_and_tiered_stores_pass_compliance_on_garage() {
    let g = garage::Garage::start();
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let b = bucket(&g, 0, "compliance-bucket", &dir.path().join("b"));
        crate::store::compliance::run_all(&b).await;
        let t = TieredStore::new(
            bucket(&g, 1, "compliance-tiered", &dir.path().join("t")),
            &dir.path().join("t/local"),
            1 << 20,
            Coordination::standalone(),
        )
        .unwrap();
        crate::store::compliance::run_all(&t).await;
        // A large copy changed in place (same name) through the S3 API:
        // Garage honours If-Match.
        crate::store::bucket::check_changed_in_place(&b).await;
    });
}

//! The conformance suite every [`Store`] backend must pass (in the manner
//! of Athens' storage compliance tests): run [`run_all`] against a fresh,
//! empty store.

use super::{Meta, PutBytes, Store};

/// A record with every optional field set, so round trips are checked.
fn meta_for(bytes: &[u8], origin: &str) -> Meta {
    Meta {
        h1: Some("h1:test".into()),
        admitted_at: 1_700_000_000,
        sumdb_tree_size: Some(42),
        ..crate::admit::testing::meta_of(bytes, origin)
    }
}

/// Runs every conformance check against an empty store; panics on failure.
pub async fn run_all(store: &dyn Store) {
    absent(store).await;
    put_get(store).await;
    replace(store).await;
    quarantine_and_delete(store).await;
    list_prefix(store).await;
    bad_keys(store).await;
    staged_drop(store).await;
}

async fn absent(store: &dyn Store) {
    assert!(store.meta("m/@v/none.zip").await.unwrap().is_none());
    assert!(store.open("m/@v/none.zip").await.unwrap().is_none());
    assert!(store.get_bytes("m/@v/none.zip").await.unwrap().is_none());
    store.delete("m/@v/none.zip").await.unwrap();
    store.quarantine("m/@v/none.zip", "test").await.unwrap();
}

async fn put_get(store: &dyn Store) {
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let meta = meta_for(&data, "https://up.example");
    store
        .put_bytes("example.com/m/@v/v1.0.0.zip", &data, &meta)
        .await
        .unwrap();
    assert_eq!(
        store.meta("example.com/m/@v/v1.0.0.zip").await.unwrap(),
        Some(meta.clone())
    );
    let (m, b) = store
        .get_bytes("example.com/m/@v/v1.0.0.zip")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m, meta);
    assert_eq!(b, data);
    // Seeking works (ranges are served from it).
    let o = store
        .open("example.com/m/@v/v1.0.0.zip")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.reader.stored_len().await.unwrap(), data.len() as u64);
    assert_eq!(
        &o.reader.read_at(1000, 10).await.unwrap()[..],
        &data[1000..1010]
    );
    // Short only at the end, empty past it.
    assert_eq!(
        &o.reader.read_at(data.len() as u64 - 3, 10).await.unwrap()[..],
        &data[data.len() - 3..]
    );
    assert!(o
        .reader
        .read_at(data.len() as u64 + 5, 10)
        .await
        .unwrap()
        .is_empty());
    // Empty objects are objects.
    let empty = meta_for(b"", "x");
    store
        .put_bytes("example.com/m/@v/empty", b"", &empty)
        .await
        .unwrap();
    assert_eq!(
        store
            .get_bytes("example.com/m/@v/empty")
            .await
            .unwrap()
            .unwrap()
            .1,
        b""
    );
}

async fn replace(store: &dyn Store) {
    let k = "example.com/r/@v/v1.0.0.mod";
    store
        .put_bytes(k, b"one", &meta_for(b"one", "a"))
        .await
        .unwrap();
    store
        .put_bytes(k, b"two!", &meta_for(b"two!", "b"))
        .await
        .unwrap();
    let (m, b) = store.get_bytes(k).await.unwrap().unwrap();
    assert_eq!(b, b"two!");
    assert_eq!(m.origin, "b");
    assert_eq!(m.size, 4);
}

async fn quarantine_and_delete(store: &dyn Store) {
    let k = "example.com/q/@v/v1.0.0.zip";
    store
        .put_bytes(k, b"rotten", &meta_for(b"rotten", "a"))
        .await
        .unwrap();
    store.quarantine(k, "sha256 mismatch").await.unwrap();
    assert!(store.meta(k).await.unwrap().is_none());
    assert!(store.open(k).await.unwrap().is_none());
    assert!(!store
        .list("example.com/q/")
        .await
        .unwrap()
        .contains(&k.to_owned()));
    // It can be admitted again after quarantine.
    store
        .put_bytes(k, b"fresh", &meta_for(b"fresh", "b"))
        .await
        .unwrap();
    assert_eq!(store.get_bytes(k).await.unwrap().unwrap().1, b"fresh");
    store.delete(k).await.unwrap();
    assert!(store.meta(k).await.unwrap().is_none());
}

async fn list_prefix(store: &dyn Store) {
    for v in ["v1.0.0", "v1.1.0", "v2.0.0+incompatible"] {
        let k = format!("example.com/l/@v/{v}.info");
        store
            .put_bytes(&k, v.as_bytes(), &meta_for(v.as_bytes(), "a"))
            .await
            .unwrap();
    }
    store
        .put_bytes("example.com/lx/@v/v9.0.0.info", b"x", &meta_for(b"x", "a"))
        .await
        .unwrap();
    let keys = store.list("example.com/l/@v/").await.unwrap();
    assert_eq!(
        keys,
        vec![
            "example.com/l/@v/v1.0.0.info".to_owned(),
            "example.com/l/@v/v1.1.0.info".to_owned(),
            "example.com/l/@v/v2.0.0+incompatible.info".to_owned(),
        ]
    );
    assert!(store.list("example.com/nothing/").await.unwrap().is_empty());
}

async fn bad_keys(store: &dyn Store) {
    for k in ["", "/abs", "a/../b", "a//b", "a/./b", "a\\b", "x/y.gmeta"] {
        assert!(store.meta(k).await.is_err(), "key {k:?} must be refused");
        assert!(
            store
                .put_bytes(k, b"x", &meta_for(b"x", "a"))
                .await
                .is_err(),
            "key {k:?} must be refused"
        );
    }
}

async fn staged_drop(store: &dyn Store) {
    let staged = store.stage().unwrap();
    let p = staged.path().to_owned();
    assert!(p.exists());
    drop(staged);
    assert!(!p.exists(), "a dropped staging file is removed");
}

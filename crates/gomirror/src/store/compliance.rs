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
    replace_while_reading(store).await;
    awkward_keys(store).await;
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
    // A large object (streamed by some backends): reads are full, short
    // only at the end, wherever they start.
    let big: Vec<u8> = (0..(3u32 << 20)).map(|i| (i * 13 % 251) as u8).collect();
    let bmeta = meta_for(&big, "https://up.example");
    store
        .put_bytes("example.com/m/@v/v2.0.0.zip", &big, &bmeta)
        .await
        .unwrap();
    let o = store
        .open("example.com/m/@v/v2.0.0.zip")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.reader.stored_len().await.unwrap(), big.len() as u64);
    let mut pos = 0usize;
    while pos < big.len() {
        let want = (1 << 20).min(big.len() - pos);
        let got = o.reader.read_at(pos as u64, 1 << 20).await.unwrap();
        assert_eq!(got.len(), want, "a short read at {pos}");
        assert_eq!(&got[..], &big[pos..pos + want]);
        pos += want;
    }
    assert_eq!(&o.reader.read_at(5, 100).await.unwrap()[..], &big[5..105]);
    assert_eq!(
        &o.reader.read_at(big.len() as u64 - 10, 100).await.unwrap()[..],
        &big[big.len() - 10..]
    );
    store.delete("example.com/m/@v/v2.0.0.zip").await.unwrap();
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
    for k in ["", "/abs", "a/../b", "a//b", "a/./b", "a\\b", "a/", "a\0b"] {
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

/// Valid Go module paths the file system would refuse as names: an element
/// of 256+ bytes, a key over 4,096 bytes, elements ending in the file
/// store's record suffix (as a directory and as the last element). Each is
/// stored, read back, listed under its prefixes, quarantined and deleted.
async fn awkward_keys(store: &dyn Store) {
    let long_elem = format!("example.com/{}", "e".repeat(300));
    let many: Vec<String> = (0..45)
        .map(|i| format!("{i:02}{}", "p".repeat(98)))
        .collect();
    let long_path = format!("example.com/{}", many.join("/"));
    assert!(long_path.len() > 4096);
    let keys = [
        format!("{long_elem}/@v/v1.0.0.mod"),
        format!("{long_elem}/@v/list"),
        format!("{long_path}/@v/v1.0.0.zip"),
        "example.com/x.gmeta/@v/v1.0.0.info".to_owned(),
        "example.com/x/@v/list.gmeta".to_owned(),
        format!("example.com/x/@v/v1.0.0-{}.info", "r".repeat(250)),
        "#hash/like".to_owned(),
        "_under/score".to_owned(),
    ];
    for (i, k) in keys.iter().enumerate() {
        let data = format!("object {i} of {k}").into_bytes();
        store
            .put_bytes(k, &data, &meta_for(&data, "a"))
            .await
            .unwrap_or_else(|e| panic!("put {k}: {e}"));
        let (m, b) = store.get_bytes(k).await.unwrap().expect(k);
        assert_eq!((m.size, b), (data.len() as u64, data), "{k}");
    }
    let mut sorted = keys.to_vec();
    sorted.sort();
    assert_eq!(
        store
            .list("")
            .await
            .unwrap()
            .iter()
            .filter(|k| sorted.contains(k))
            .collect::<Vec<_>>(),
        sorted.iter().collect::<Vec<_>>()
    );
    assert_eq!(
        store.list(&format!("{long_elem}/@v/")).await.unwrap(),
        [
            format!("{long_elem}/@v/list"),
            format!("{long_elem}/@v/v1.0.0.mod")
        ]
    );
    assert_eq!(
        store.list(&format!("{long_elem}/@v/l")).await.unwrap(),
        [format!("{long_elem}/@v/list")]
    );
    assert_eq!(
        store.list(&long_path[..2000]).await.unwrap(),
        [format!("{long_path}/@v/v1.0.0.zip")]
    );
    assert_eq!(
        store.list("example.com/x.gmeta/").await.unwrap(),
        ["example.com/x.gmeta/@v/v1.0.0.info"]
    );
    assert_eq!(
        store.list("example.com/x/@v/").await.unwrap(),
        [keys[4].clone(), keys[5].clone()]
    );
    for k in &keys {
        let data = b"replaced".to_vec();
        store
            .put_bytes(k, &data, &meta_for(&data, "b"))
            .await
            .unwrap();
        assert_eq!(store.get_bytes(k).await.unwrap().unwrap().1, data, "{k}");
    }
    store.quarantine(&keys[0], "test").await.unwrap();
    store.delete(&keys[2]).await.unwrap();
    for k in [&keys[0], &keys[2]] {
        assert!(store.open(k).await.unwrap().is_none(), "{k}");
        assert!(!store.list("").await.unwrap().contains(k), "{k}");
    }
    for k in &keys {
        store.delete(k).await.unwrap();
    }
}

/// Writers keep replacing one key with contents of other lengths while
/// readers open it: every opened record matches the bytes read with it,
/// and the key is never absent once it exists.
async fn replace_while_reading(store: &dyn Store) {
    use sha2::{Digest, Sha256};
    let k = "example.com/race/@v/list";
    let first = b"v1.0.0\n".to_vec();
    store
        .put_bytes(k, &first, &meta_for(&first, "a"))
        .await
        .unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    let writer = |w: usize| {
        let done = &done;
        async move {
            for i in 0..150 {
                let data = format!("{}\n", "v1.0.0\nv1.1.0".repeat(1 + (i + w) % 3)).into_bytes();
                store
                    .put_bytes(k, &data, &meta_for(&data, "a"))
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    };
    let reader = || {
        let done = &done;
        async move {
            let mut n = 0u64;
            loop {
                let (m, b) = store
                    .get_bytes(k)
                    .await
                    .unwrap()
                    .expect("a replaced key is never absent");
                assert_eq!(b.len() as u64, m.size, "record paired with other bytes");
                assert_eq!(
                    hex::encode(Sha256::digest(&b)),
                    m.sha256,
                    "record paired with other bytes"
                );
                n += 1;
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                tokio::task::yield_now().await;
            }
            n
        }
    };
    let (_, _, a, b, c, d) =
        tokio::join!(writer(0), writer(1), reader(), reader(), reader(), reader());
    assert!(a + b + c + d >= 4);
}

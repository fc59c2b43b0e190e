//! An in-memory [`Store`]: for tests, and for trying gomirror without a
//! disk. Objects vanish with the process.

use super::{check_key, Meta, ObjectRead, Opened, Result, Staged, Store, StoreError};
use crate::admit::Admitted;
use async_trait::async_trait;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::Mutex;

/// A [`Store`] in memory. Each put gets a new generation number, which is
/// its fingerprint.
pub struct MemStore {
    objects: Mutex<HashMap<String, (Meta, Bytes, u64)>>,
    quarantined: Mutex<Vec<(String, String)>>,
    next_generation: Mutex<u64>,
    staging: tempfile::TempDir,
}

impl MemStore {
    /// A new empty store (staging files go to a private temp directory).
    pub fn new() -> std::io::Result<MemStore> {
        Ok(MemStore {
            objects: Mutex::default(),
            quarantined: Mutex::default(),
            next_generation: Mutex::new(1),
            staging: tempfile::tempdir()?,
        })
    }

    #[cfg(test)]
    /// Changes stored bytes without changing the fingerprint: silent media
    /// rot, which no metadata reveals. For tests of the serving guarantee.
    pub fn rot(&self, key: &str, f: impl FnOnce(&mut Vec<u8>)) {
        let mut objects = self.objects.lock().unwrap();
        if let Some((_, bytes, _)) = objects.get_mut(key) {
            let mut v = bytes.to_vec();
            f(&mut v);
            *bytes = Bytes::from(v);
        }
    }

    /// Keys quarantined so far, with the reasons.
    #[cfg(test)]
    pub fn quarantined(&self) -> Vec<(String, String)> {
        self.quarantined.lock().unwrap().clone()
    }
}

struct MemRead(Bytes);

#[async_trait]
impl ObjectRead for MemRead {
    async fn stored_len(&self) -> std::io::Result<u64> {
        Ok(self.0.len() as u64)
    }
    async fn read_at(&self, pos: u64, max: usize) -> std::io::Result<Bytes> {
        let len = self.0.len();
        let start = (pos.min(len as u64)) as usize;
        let end = start.saturating_add(max).min(len);
        Ok(self.0.slice(start..end))
    }
}

#[async_trait]
impl Store for MemStore {
    async fn meta(&self, key: &str) -> Result<Option<Meta>> {
        check_key(key)?;
        Ok(self
            .objects
            .lock()
            .unwrap()
            .get(key)
            .map(|(m, _, _)| m.clone()))
    }

    async fn open(&self, key: &str) -> Result<Option<Opened>> {
        check_key(key)?;
        Ok(self
            .objects
            .lock()
            .unwrap()
            .get(key)
            .map(|(m, b, g)| Opened {
                meta: m.clone(),
                reader: Box::new(MemRead(b.clone())),
                fingerprint: Some(g.to_string()),
                probe: None,
            }))
    }

    fn fingerprint(&self, key: &str) -> Option<String> {
        self.objects
            .lock()
            .unwrap()
            .get(key)
            .map(|(_, _, g)| g.to_string())
    }

    fn stage(&self) -> Result<Staged> {
        Staged::create_in(self.staging.path()).map_err(|e| StoreError::Io {
            op: "stage",
            key: String::new(),
            source: e,
        })
    }

    async fn put(&self, obj: Admitted) -> Result<()> {
        let (key, staged, meta) = super::staged_parts(obj, self.staging.path())?;
        let (key, meta) = (key.as_str(), &meta);
        check_key(key)?;
        let bytes = std::fs::read(staged.path()).map_err(|e| StoreError::Io {
            op: "read staged",
            key: key.to_owned(),
            source: e,
        })?;
        let mut g = self.next_generation.lock().unwrap();
        *g += 1;
        self.objects
            .lock()
            .unwrap()
            .insert(key.to_owned(), (meta.clone(), Bytes::from(bytes), *g));
        Ok(())
    }

    async fn quarantine(&self, key: &str, reason: &str) -> Result<()> {
        check_key(key)?;
        if self.objects.lock().unwrap().remove(key).is_some() {
            self.quarantined
                .lock()
                .unwrap()
                .push((key.to_owned(), reason.to_owned()));
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut keys: Vec<String> = self
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn mem_store_passes_compliance() {
        let store = super::MemStore::new().unwrap();
        crate::store::compliance::run_all(&store).await;
    }
}

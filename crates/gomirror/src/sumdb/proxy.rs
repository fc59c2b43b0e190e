//! The `/sumdb/` proxy: answers passed on, verified state kept, stale
//! answers re-verified before they are served.

use super::tiles::HttpTiles;
use super::{latest_key, Client, SumdbError, TILE_HEIGHT};
use gomod::tlog::{self, Tile, Tree};
use std::sync::Arc;

impl Client {
    /// A tile for the `/sumdb/` proxy. A hash tile (full or partial) is
    /// served only once its hashes check against the latest verified tree
    /// (refreshed if it does not cover the tile): a kept copy is checked
    /// again each time it is served (and set aside if it no longer checks),
    /// a fetched one is checked and then kept (a tile's path names its
    /// width, so its content never changes). Data tiles, and a partial tile
    /// of another tree size than the verified one, are passed through
    /// unkept (the go command verifies them); a full tile that does not
    /// check is refused.
    pub async fn proxy_tile(
        self: &Arc<Self>,
        t: Tile,
    ) -> Result<Result<Vec<u8>, (u16, String)>, SumdbError> {
        if t.l < 0 || t.h != TILE_HEIGHT {
            return self.get(&t.path()).await;
        }
        let key = format!("sumdb/{}/{}", self.cfg.name, t.path());
        let full = t.w == 1 << t.h;
        let level = t.l as u32 * t.h;
        let last = (t.n << t.h) + u64::from(t.w) - 1;
        let covers = |tree: &Tree| {
            level < 64
                && (last + 1)
                    .checked_shl(level)
                    .is_some_and(|need| need <= tree.n)
        };
        let mut tree = {
            let mut g = self.latest.lock().await;
            self.known_latest(&mut g).await
        };
        if !tree.as_ref().is_some_and(covers) {
            self.fetch_latest().await?;
            tree = self.latest.lock().await.as_ref().map(|(t, _)| *t);
        }
        let Some(tree) = tree.filter(covers) else {
            return self.get(&t.path()).await;
        };
        if let Some(b) = self.kept(&key).await {
            if self.check_tile(tree, t, &b, true).await || self.check_tile(tree, t, &b, false).await
            {
                return Ok(Ok(b));
            }
            self.set_aside(&key, "kept tile does not check against the signed tree")
                .await;
        }
        let data = match self.get(&t.path()).await? {
            Ok(d) => d,
            Err(e) => return Ok(Err(e)),
        };
        if self.check_tile(tree, t, &data, false).await {
            return Ok(Ok(data));
        }
        if full {
            return Err(self.invalid(format!(
                "{}: does not check against the signed tree of size {}",
                t.path(),
                tree.n
            )));
        }
        tracing::debug!(
            tile = t.path(),
            "partial tile not kept: not a tile of the verified tree"
        );
        Ok(Ok(data))
    }

    /// A kept tile, re-verified against the kept signed tree (from kept
    /// tiles only) before it is served stale (the database is down): `None`
    /// when it is not kept or does not check.
    pub async fn stale_tile(self: &Arc<Self>, t: Tile) -> Option<Vec<u8>> {
        if t.l < 0 || t.h != TILE_HEIGHT {
            return None;
        }
        let key = format!("sumdb/{}/{}", self.cfg.name, t.path());
        let data = self.kept(&key).await?;
        let tree = {
            let mut g = self.latest.lock().await;
            self.known_latest(&mut g).await
        }?;
        self.check_tile(tree, t, &data, true).await.then_some(data)
    }

    /// The kept signed tree head, re-verified with the database's key, to
    /// serve stale.
    pub async fn stale_latest(&self) -> Option<Vec<u8>> {
        let b = self.kept(&latest_key(&self.cfg.name)).await?;
        self.open_tree(&b).ok().map(|_| b)
    }

    /// A lookup for the `/sumdb/` proxy (`lookup/<module>@<version>`): an
    /// answer the mirror proved itself in the last minute (see
    /// `Client::answers`), else the database's answer, kept (through
    /// admission) once its signed tree verifies, is consistent with the
    /// kept one and proves the record; an answer that does not verify is
    /// passed through unkept (the go command verifies it).
    pub async fn proxy_lookup(
        self: &Arc<Self>,
        path: &str,
    ) -> Result<Result<Vec<u8>, (u16, String)>, SumdbError> {
        let proven = self
            .answers
            .lock()
            .unwrap()
            .get(path)
            .filter(|(at, _)| at.elapsed() < super::ANSWER_REUSED)
            .map(|(_, b)| b.clone());
        if let Some(b) = proven {
            return Ok(Ok(b.to_vec()));
        }
        let body = match self.get(path).await? {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        let key = format!("sumdb/{}/{path}", self.cfg.name);
        if let Err(e) = self.keep_answer(&key, &body).await {
            tracing::warn!(key, "lookup answer not kept: {e}");
        }
        Ok(Ok(body))
    }

    /// The record proof of a lookup answer, built from tiles (kept ones
    /// only when `offline`), and the tree it is proven in.
    async fn answer_proof(
        self: &Arc<Self>,
        body: &[u8],
        offline: bool,
    ) -> Result<tlog::RecordProof, String> {
        let (id, _, signed) = tlog::parse_record(body).map_err(|e| e.to_string())?;
        let tree = self.open_tree(signed).map_err(|e| e.to_string())?;
        if !offline {
            self.merge(tree, signed).await.map_err(|e| e.to_string())?;
        }
        if id >= tree.n {
            return Err(format!("record {id} is not in tree of size {}", tree.n));
        }
        let mut tiles = HttpTiles::new(self.clone());
        tiles.keep_partial = true;
        tiles.offline = offline;
        tokio::task::spawn_blocking(move || {
            let r = tlog::TileHashReader::new(tree, &tiles);
            tlog::prove_record(tree.n, id, &r).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| e.to_string())?
    }

    pub(super) async fn keep_answer(
        self: &Arc<Self>,
        key: &str,
        body: &[u8],
    ) -> Result<(), String> {
        let proof = self.answer_proof(body, false).await?;
        let admitted =
            crate::admit::sumdb_answer(key, body, &self.verifiers, &proof, &self.cfg.url)
                .map_err(|e| e.to_string())?;
        self.store.put(admitted).await.map_err(|e| e.to_string())
    }

    /// A kept lookup answer, re-verified (signature, record proof from kept
    /// tiles) before it is served stale.
    pub async fn stale_lookup(self: &Arc<Self>, path: &str) -> Option<Vec<u8>> {
        let key = format!("sumdb/{}/{path}", self.cfg.name);
        let body = self.kept(&key).await?;
        let proof = self.answer_proof(&body, true).await.ok()?;
        crate::admit::check_answer(&body, &self.verifiers, &proof).ok()?;
        Some(body)
    }
}
